"""Shared pieces of the text-encoder fixture scripts: the training corpus of the test tokenizer,
the prompt list, and the diffusers default complex human instruction.

Nothing here downloads anything; the tokenizer is trained from the sentences below.
"""

# diffusers SanaPipeline.__call__ default `complex_human_instruction` (pipeline_sana.py).
CHI = [
    "Given a user prompt, generate an 'Enhanced prompt' that provides detailed visual descriptions suitable for image generation. Evaluate the level of detail in the user prompt:",
    "- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial relationships to create vivid and concrete scenes.",
    "- If the prompt is already detailed, refine and enhance the existing details slightly without overcomplicating.",
    "Here are examples of how to transform or refine prompts:",
    "- User Prompt: A cat sleeping -> Enhanced: A small, fluffy white cat curled up in a round shape, sleeping peacefully on a warm sunny windowsill, surrounded by pots of blooming red flowers.",
    "- User Prompt: A busy city street -> Enhanced: A bustling city street scene at dusk, featuring glowing street lamps, a diverse crowd of people in colorful clothing, and a double-decker bus passing by towering glass skyscrapers.",
    "Please generate only the enhanced description for the prompt below and avoid including any additional commentary or evaluations:",
    "User Prompt: ",
]

_ENGLISH = [
    "a painting of a squirrel eating a burger",
    "a photo of an astronaut riding a horse on the moon",
    "a red fox sitting in the snow under a pine tree",
    "the quick brown fox jumps over the lazy dog",
    "a cyberpunk city at night with neon lights and rain",
    "portrait of an old man with a long white beard, oil painting",
    "a bowl of ramen with an egg, chopsticks and steam",
    "a small wooden boat on a calm lake at sunrise",
    "a watercolor map of an imaginary island with mountains",
    "an owl wearing glasses reading a book in a library",
    "three apples and two pears on a blue table",
    "a lighthouse on a rocky cliff during a storm",
    "close-up of a dragonfly on a green leaf, macro photography",
    "a futuristic car parked in front of a glass building",
    "a cozy living room with a fireplace and a sleeping dog",
    "children playing football in a park in the afternoon",
    "a mountain landscape with a river and colorful autumn trees",
    "a robot making coffee in a modern kitchen",
    "a teddy bear on a skateboard in times square",
    "sunset over the ocean with palm trees and a hammock",
    "An image of a cat, 4k, highly detailed, 1024x1024.",
    "Prompt with numbers 12345 and 3.14159 and 2024!",
    "The Eiffel Tower in Paris, France; the Colosseum in Rome, Italy.",
    "What is the weather like today? It's sunny, isn't it?",
    "Hello, World! This is a test of the tokenizer: brackets (like these) [and these] {and these}.",
]

_CHINESE = [
    "一只可爱的小猫在窗台上睡觉",
    "夕阳下的海边有棕榈树和吊床",
    "一幅松鼠吃汉堡的油画",
    "城市街道上人来人往，灯光闪烁",
    "山水画，高山流水，云雾缭绕",
    "一个宇航员在月球上骑马",
    "红色的花朵在阳光下盛开",
    "中国古代的宫殿和花园",
]


def training_sentences():
    """The tokenizer's training corpus (one sentence per line)."""
    lines = []
    for _ in range(4):
        lines += CHI[:-1]
        lines += _ENGLISH
        lines += [s.lower() for s in _ENGLISH]
        lines += _CHINESE
    return lines


# Prompts checked for identical ids and masks between SentencePiece (C++) and transformers.
PROMPTS = [
    "a painting of a squirrel eating a burger",
    "A Painting Of A Squirrel Eating A Burger.",
    "一只可爱的小猫在窗台上睡觉",
    "a cat 🐱 and a dog 🐶 playing 🎉",
    "mixed 中文 and English, with émigré café naïve façade",
    "",
    "   ",
    " leading space",
    "trailing space ",
    "double  space and\ttab and\nnewline",
    "<start_of_turn>user text<end_of_turn>",
    "literal <bos> and <pad> and <eos> in the text",
    "İstanbul ÀÉÎÕÜ ΑΒΓΔ Привет Ǆ ẞ Ｆｕｌｌ",
    "\u3000ideographic space and nbsp\u00a0",
    "numbers 0123456789 and 3.14159",
    "punctuation!!! ??? ... --- ***",
    " ".join(["a very long prompt about a red fox in the snow"] * 40),
    "一只可爱的小猫" * 60,
]
