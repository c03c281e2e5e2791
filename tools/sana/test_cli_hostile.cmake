# ctest driver for the hostile inputs of issue 15 against `sana generate` / `sana info` on the tiny fixture
# folder: every file the tool opens goes through the one checked open (a FIFO never hangs, a directory or a
# dangling link says what it is); each bad case must exit with the expected code, one line naming the path or
# flag, and leave no file in out/.
#   cmake -DSANA=<sana> -DMODEL=<tests/data/pipeline/tiny_sana> -DWORK=<scratch dir> -P test_cli_hostile.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/out ${WORK}/adir)
get_filename_component(DATA ${MODEL} DIRECTORY)

function(mkfifo path)
  execute_process(COMMAND mkfifo ${path} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mkfifo ${path} failed")
  endif()
endfunction()
function(copy_model to)
  file(COPY ${MODEL}/ DESTINATION ${to})
endfunction()

# A FIFO (or directory, or dangling link) in place of each file the tool reads.
copy_model(${WORK}/fifo_sched)
file(REMOVE ${WORK}/fifo_sched/scheduler/scheduler_config.json)
mkfifo(${WORK}/fifo_sched/scheduler/scheduler_config.json)
copy_model(${WORK}/fifo_tok)
file(REMOVE ${WORK}/fifo_tok/tokenizer/tokenizer.model)
mkfifo(${WORK}/fifo_tok/tokenizer/tokenizer.model)
copy_model(${WORK}/dir_weights)
file(GLOB w ${WORK}/dir_weights/transformer/*.safetensors)
file(REMOVE ${w})
file(MAKE_DIRECTORY ${WORK}/dir_weights/transformer/diffusion_pytorch_model.safetensors)
copy_model(${WORK}/link_config)
file(REMOVE ${WORK}/link_config/vae/config.json)
file(CREATE_LINK ${WORK}/absent.json ${WORK}/link_config/vae/config.json SYMBOLIC)
mkfifo(${WORK}/prompts.fifo)
mkfifo(${WORK}/latents.fifo)
file(WRITE ${WORK}/afile "not a folder")
# Prompt files: names outside -o's directory, duplicates, numbers out of range, duplicate keys, NUL.
file(WRITE ${WORK}/traversal.json "[{\"prompt\": \"a\", \"name\": \"../escaped\"}]")
file(WRITE ${WORK}/absolute.json "[{\"prompt\": \"a\", \"name\": \"${WORK}/escaped\"}]")
file(WRITE ${WORK}/dup_names.json "[{\"prompt\": \"a\", \"name\": \"n\"}, {\"prompt\": \"b\", \"name\": \"n\"}]")
file(WRITE ${WORK}/empty_name.json "[{\"prompt\": \"a\", \"name\": \"\"}]")
file(WRITE ${WORK}/steps.json "[{\"prompt\": \"a\", \"steps\": 4294967297}]")
file(WRITE ${WORK}/dup_key.json "[{\"prompt\": \"a\", \"prompt\": \"b\"}]")
file(WRITE ${WORK}/nul.json "[{\"prompt\": \"a\\u0000b\"}]")
file(WRITE ${WORK}/size.json "[{\"prompt\": \"a\"}, {\"prompt\": \"b\", \"width\": 96, \"height\": 100}]")
string(REPEAT "x" 260 long)
# Config fields: sizes beyond the caps or the machine, values we do not implement, nonsense values.
function(edited_model to file from replacement)
  copy_model(${to})
  file(READ ${to}/${file} text)
  string(REPLACE "${from}" "${replacement}" text "${text}")
  file(WRITE ${to}/${file} "${text}")
endfunction()
edited_model(${WORK}/huge_layers transformer/config.json "\"num_layers\": 2" "\"num_layers\": 100000000")
edited_model(${WORK}/huge_vocab text_encoder/config.json "\"vocab_size\": 700" "\"vocab_size\": 1000000000")
edited_model(${WORK}/heun scheduler/scheduler_config.json "\"dpmsolver++\"" "\"sde-dpmsolver++\"")
edited_model(${WORK}/inf_shift scheduler/scheduler_config.json "\"flow_shift\": 3.0" "\"flow_shift\": Infinity")
edited_model(${WORK}/epsilon scheduler/scheduler_config.json "\"flow_prediction\"" "\"epsilon\"")
edited_model(${WORK}/rope text_encoder/config.json "\"rope_theta\": 10000.0" "\"rope_theta\": -1")
edited_model(${WORK}/window text_encoder/config.json "\"sliding_window\": 4" "\"sliding_window\": 0")
edited_model(${WORK}/scaling vae/config.json "\"scaling_factor\": 0.41407" "\"scaling_factor\": 0")
copy_model(${WORK}/nan_weights)
file(GLOB w ${WORK}/nan_weights/transformer/*.safetensors)
file(REMOVE ${w})
file(COPY ${DATA}/../hostile/nan_weight.safetensors DESTINATION ${WORK}/nan_weights/transformer)
edited_model(${WORK}/unknown_field transformer/config.json "\"dropout\": 0.0" "\"dropout\": 0.0, \"use_pe\": true")
edited_model(${WORK}/vae_unknown vae/config.json "\"scaling_factor\"" "\"force_upcast\": true, \"scaling_factor\"")
edited_model(${WORK}/gemma_bias text_encoder/config.json "\"attention_bias\": false" "\"attention_bias\": true")
edited_model(${WORK}/gemma_unknown text_encoder/config.json "\"attention_bias\": false" "\"attention_bias\": false, \"mystery\": 1")
edited_model(${WORK}/vae_class vae/config.json "\"AutoencoderDC\"" "\"AutoencoderKL\"")
edited_model(${WORK}/idx_class model_index.json "\"GemmaTokenizer\"" "\"LlamaTokenizer\"")
edited_model(${WORK}/idx_extra model_index.json "\"scheduler\":" "\"controlnet\": [\"diffusers\", \"SanaControlNetModel\"], \"scheduler\":")
edited_model(${WORK}/idx_scheduler model_index.json "\"DPMSolverMultistepScheduler\"" "\"FlowMatchEulerDiscreteScheduler\"")
set(hostile ${DATA}/../hostile)

set(base "generate^-p^a cat^--steps^1")  # ^ separates arguments inside one case
# name | expected exit | message regex | arguments
set(cases
  "fifo-scheduler|1|scheduler_config.json' is a FIFO|${base}^--model^${WORK}/fifo_sched^-o^${WORK}/out/a.png"
  "fifo-info|1|scheduler_config.json' is a FIFO|info^${WORK}/fifo_sched"
  "fifo-tokenizer|1|tokenizer.model' is a FIFO|${base}^--model^${WORK}/fifo_tok^-o^${WORK}/out/a.png"
  "dir-weights|1|diffusion_pytorch_model.safetensors' is a directory|${base}^--model^${WORK}/dir_weights^-o^${WORK}/out/a.png"
  "dangling-config|1|config.json' is a dangling symbolic link|${base}^--model^${WORK}/link_config^-o^${WORK}/out/a.png"
  "fifo-txt-file|1|prompts.fifo' is a FIFO|generate^--txt-file^${WORK}/prompts.fifo^--model^${MODEL}^-o^${WORK}/out/a.png"
  "dir-json-file|1|adir' is a directory|generate^--json-file^${WORK}/adir^--model^${MODEL}^-o^${WORK}/out/a.png"
  "fifo-latents|1|latents.fifo' is a FIFO|${base}^--model^${MODEL}^--latents^${WORK}/latents.fifo^-o^${WORK}/out/a.png"
  "model-is-file|1|afile' is a regular file, not a directory|${base}^--model^${WORK}/afile^-o^${WORK}/out/a.png"
  "info-model-is-file|1|afile' is a regular file, not a directory|info^${WORK}/afile"
  # names stay inside -o's directory and are unique
  "name-traversal|1|entry 0: \"name\" '../escaped' must be a file name|generate^--json-file^${WORK}/traversal.json^--model^${MODEL}^-o^${WORK}/out/a.png"
  "name-absolute|1|must be a file name without '/'|generate^--json-file^${WORK}/absolute.json^--model^${MODEL}^-o^${WORK}/out/a.png"
  "name-duplicate|1|'n' is already used by entry 0|generate^--json-file^${WORK}/dup_names.json^--model^${MODEL}^-o^${WORK}/out/a.png"
  "name-empty|1|\"name\" is empty|generate^--json-file^${WORK}/empty_name.json^--model^${MODEL}^-o^${WORK}/out/a.png"
  "name-too-long|1|file name is 264 bytes|${base}^--model^${MODEL}^-o^${WORK}/out/${long}.png"
  # one strict number parser, bounds on every numeric flag and field
  "json-steps-overflow|1|\"steps\" must be in .1, 1000., got 4294967297|generate^--json-file^${WORK}/steps.json^--model^${MODEL}^-o^${WORK}/out/a.png"
  "json-duplicate-key|1|duplicate key 'prompt'|generate^--json-file^${WORK}/dup_key.json^--model^${MODEL}^-o^${WORK}/out/a.png"
  "json-nul|1|contains a NUL byte|generate^--json-file^${WORK}/nul.json^--model^${MODEL}^-o^${WORK}/out/a.png"
  "json-size|1|size.json. entry 1: \"height\" must be a multiple of 32|generate^--json-file^${WORK}/size.json^--model^${MODEL}^-o^${WORK}/out/a.png"
  "seed-space-sign|2|--seed expects a non-negative integer, got ' -1'|${base}^--model^${MODEL}^--seed^ -1^-o^${WORK}/out/a.png"
  "shift-negative|2|--shift must be > 0|${base}^--model^${MODEL}^--shift^-1^-o^${WORK}/out/a.png"
  "cfg-huge|2|--cfg-scale must be in|${base}^--model^${MODEL}^--cfg-scale^1e308^-o^${WORK}/out/a.png"
  "cfg-inf|2|--cfg-scale expects a finite number|${base}^--model^${MODEL}^--cfg-scale^inf^-o^${WORK}/out/a.png"
  "steps-huge|2|--steps must be in .1, 1000.|generate^-p^a^--steps^1000000000^--model^${MODEL}^-o^${WORK}/out/a.png"
  "width-huge|2|-W must be in .32, 8192.|${base}^--model^${MODEL}^-W^65536^-o^${WORK}/out/a.png"
  "batch-huge|2|--batch must be in .1, 256.|${base}^--model^${MODEL}^--batch^1000000^-o^${WORK}/out/a.png"
  "max-seq-len|2|--max-sequence-length must be in|encode^--model^${MODEL}^--prompt^a^--max-sequence-length^100000^--out^${WORK}/out/e.safetensors"
  # config fields
  "cfg-num-layers|1|'num_layers' = 100000000 is above the limit of 4096|${base}^--model^${WORK}/huge_layers^-o^${WORK}/out/a.png"
  "cfg-vocab|1|'vocab_size' = 1000000000 is above the limit|${base}^--model^${WORK}/huge_vocab^-o^${WORK}/out/a.png"
  "cfg-sde|1|field 'algorithm_type' = \"sde-dpmsolver..\" is not implemented|${base}^--model^${WORK}/heun^-o^${WORK}/out/a.png"
  "cfg-inf-shift|1|'flow_shift' must be a number, got \"Infinity\"|${base}^--model^${WORK}/inf_shift^-o^${WORK}/out/a.png"
  "cfg-epsilon|1|'prediction_type' = \"epsilon\"|${base}^--model^${WORK}/epsilon^-o^${WORK}/out/a.png"
  "cfg-rope|1|rope_theta must be a positive number, got -1|${base}^--model^${WORK}/rope^-o^${WORK}/out/a.png"
  "cfg-window|1|sliding_window must be positive|${base}^--model^${WORK}/window^-o^${WORK}/out/a.png"
  "cfg-scaling|1|scaling_factor must be a positive number|${base}^--model^${WORK}/scaling^-o^${WORK}/out/a.png"
  "cfg-class|1|'_class_name' is 'AutoencoderKL', not a class this loader reads|${base}^--model^${WORK}/vae_class^-o^${WORK}/out/a.png"
  "cfg-unknown-field|1|SanaTransformer2DModel field 'use_pe' is not one this version of sana-cpp knows|${base}^--model^${WORK}/unknown_field^-o^${WORK}/out/a.png"
  "cfg-vae-unknown-field|1|AutoencoderDC field 'force_upcast' is not one|${base}^--model^${WORK}/vae_unknown^-o^${WORK}/out/a.png"
  "cfg-gemma-bias|1|attention_bias true .biased q/k/v/o projections. is not implemented|${base}^--model^${WORK}/gemma_bias^-o^${WORK}/out/a.png"
  "cfg-gemma-unknown|1|Gemma2Config field 'mystery' is not one|${base}^--model^${WORK}/gemma_unknown^-o^${WORK}/out/a.png"
  "idx-class|1|model_index.json. component 'tokenizer' names class 'LlamaTokenizer', not one this loader reads|${base}^--model^${WORK}/idx_class^-o^${WORK}/out/a.png"
  "idx-extra|1|component 'controlnet' = .\"diffusers\",\"SanaControlNetModel\". is not one a Sana pipeline loads|${base}^--model^${WORK}/idx_extra^-o^${WORK}/out/a.png"
  "idx-scheduler|1|_class_name 'DPMSolverMultistepScheduler' differs from the scheduler model_index.json names|${base}^--model^${WORK}/idx_scheduler^-o^${WORK}/out/a.png"
  "info-check-idx|1|component 'tokenizer' names class 'LlamaTokenizer'|info^--check^${WORK}/idx_class"
  "info-check-nan|1|transformer/nan_weight.safetensors. tensor 'proj_out.weight' holds 2 NaN or Inf|info^--check^${WORK}/nan_weights"
  "info-check-config|1|field 'algorithm_type' = \"sde-dpmsolver..\"|info^--check^${WORK}/heun"
  # latents: every dimension checked, non-finite values refused
  "latents-shape|1|are \\(1, 8, 8, 32\\) but prompt 0 generates 64x64 px|${base}^--no-binning^--model^${MODEL}^--latents^${hostile}/latents_wrong_shape.safetensors^-o^${WORK}/out/a.png"
  "latents-nan|1|\"latents\" hold NaN or Inf|${base}^--no-binning^--model^${MODEL}^--latents^${hostile}/latents_nan.safetensors^-o^${WORK}/out/a.png"
)
include(${CMAKE_CURRENT_LIST_DIR}/cli_cases.cmake)
run_cli_cases(${cases})
