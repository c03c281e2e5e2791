# ctest driver for `sana generate` / `sana info` on the tiny fixture folder: one good run (PNG written), then
# every bad input of issue 7 item 5 (plus --latents, Sprint and --backend misuse) — each must exit non-zero
# with a one-line message naming the problem and leave no output file. Also --txt-file, and a Sana-Sprint
# folder run twice from the same latents (identical bytes).
#   cmake -DSANA=<sana> -DMODEL=<tests/data/pipeline/tiny_sana> -DWORK=<scratch dir> -P test_cli_generate.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/out)

execute_process(COMMAND ${SANA} generate -p "a cat" --model ${MODEL} --steps 2 -o ${WORK}/out/good.png
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/out/good.png)
  message(FATAL_ERROR "good run failed (${rc}): ${err}")
endif()
file(REMOVE ${WORK}/out/good.png)

# --txt-file: one prompt per line (blank lines skipped), one PNG each with _0, _1 suffixes.
file(WRITE ${WORK}/prompts.txt "a cat\n\na red fox in the snow\n")
execute_process(COMMAND ${SANA} generate --txt-file ${WORK}/prompts.txt --model ${MODEL} --steps 1 -o ${WORK}/txt.png
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/txt_0.png OR NOT EXISTS ${WORK}/txt_1.png OR EXISTS ${WORK}/txt_2.png)
  message(FATAL_ERROR "--txt-file run failed (${rc}): ${out} ${err}")
endif()

# Several prompts in one run continue one noise sequence (image k: stream k of --seed): three identical prompts
# give three different images, and image 1 of the run equals a one-prompt run's image 1 of --batch 2.
execute_process(COMMAND ${SANA} generate -p "a cat" -p "a cat" -p "a cat" --model ${MODEL} --steps 1 -o ${WORK}/same.png
                RESULT_VARIABLE rc ERROR_VARIABLE err)
execute_process(COMMAND ${SANA} generate -p "a cat" --batch 2 --model ${MODEL} --steps 1 -o ${WORK}/batch.png
                RESULT_VARIABLE rc2 ERROR_VARIABLE err2)
if(NOT rc EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "noise-stream runs failed: ${err} ${err2}")
endif()
file(SHA256 ${WORK}/same_0.png h0)
file(SHA256 ${WORK}/same_1.png h1)
file(SHA256 ${WORK}/same_2.png h2)
file(SHA256 ${WORK}/batch_1.png hb1)
if(h0 STREQUAL h1 OR h1 STREQUAL h2 OR h0 STREQUAL h2 OR NOT h1 STREQUAL hb1)
  message(FATAL_ERROR "prompts of one run must draw noise streams 0, 1, 2 (as --batch does)")
endif()

# Sana-Sprint folder (SCM, embedded guidance) from diffusers' latents and step noise: same bytes twice.
set(SPRINT ${MODEL}_sprint)
get_filename_component(DATA ${MODEL} DIRECTORY)
foreach(run a b)
  execute_process(COMMAND ${SANA} generate -p "a cat" -p "a fox" --model ${SPRINT} --latents ${DATA}/outputs.safetensors --no-binning
                          -o ${WORK}/sprint_${run}.png RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/sprint_${run}_1.png)
    message(FATAL_ERROR "Sprint run failed (${rc}): ${err}")
  endif()
endforeach()
file(SHA256 ${WORK}/sprint_a_1.png ha)
file(SHA256 ${WORK}/sprint_b_1.png hb)
if(NOT ha STREQUAL hb)
  message(FATAL_ERROR "the same latents gave different Sprint images")
endif()
execute_process(COMMAND ${SANA} info ${MODEL} RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "parameters: 17192")
  message(FATAL_ERROR "sana info failed (${rc}):\n${out}")
endif()

# LoRA: sana info lists it; generate merges it (a different image than without, the PNG names it); a LoRA made
# for another model and a LoRA file that is not safetensors fail before any output.
set(LORA ${DATA}/../lora)
execute_process(COMMAND ${SANA} info --lora ${LORA}/tiny_sana.safetensors RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "diffusers LoRA, 12 module\\(s\\), alpha from lora_adapter_metadata" OR
   NOT out MATCHES "transformer_blocks.1.attn2.to_v: rank 2, alpha 2, scaling 1")
  message(FATAL_ERROR "sana info --lora failed (${rc}):\n${out}")
endif()
foreach(run plain lora)
  set(extra "")
  if(run STREQUAL "lora")
    set(extra --lora ${LORA}/tiny_sana.safetensors:0.8)
  endif()
  execute_process(COMMAND ${SANA} generate -p "a cat" --model ${MODEL} --steps 2 ${extra} -o ${WORK}/${run}.png
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/${run}.png)
    message(FATAL_ERROR "--lora run ${run} failed (${rc}): ${err}")
  endif()
endforeach()
file(SHA256 ${WORK}/plain.png hp)
file(SHA256 ${WORK}/lora.png hl)
file(STRINGS ${WORK}/lora.png lora_text REGEX "tiny_sana.safetensors:0.8")
if(hp STREQUAL hl OR NOT lora_text)
  message(FATAL_ERROR "--lora must change the image and be named in the PNG's text")
endif()

# Broken copies of the folder.
file(COPY ${MODEL}/ DESTINATION ${WORK}/no_vae)
file(REMOVE_RECURSE ${WORK}/no_vae/vae)
file(COPY ${MODEL}/ DESTINATION ${WORK}/bad_sched)
file(READ ${MODEL}/scheduler/scheduler_config.json s)
string(REPLACE "DPMSolverMultistepScheduler" "MysteryScheduler" s "${s}")
file(WRITE ${WORK}/bad_sched/scheduler/scheduler_config.json "${s}")
file(COPY ${MODEL}/ DESTINATION ${WORK}/bad_shape)
file(READ ${MODEL}/transformer/config.json s)
string(REPLACE "\"caption_channels\": 32" "\"caption_channels\": 48" s "${s}")
file(WRITE ${WORK}/bad_shape/transformer/config.json "${s}")
file(WRITE ${WORK}/broken.json "[{\"prompt\": \"a cat\"}, {\"prompt\": 3}]")
string(ASCII 255 bad_byte)
file(WRITE ${WORK}/broken.txt "a cat\na ${bad_byte} fox\n")

set(base "generate^-p^a cat^--steps^2")  # ^ separates arguments inside one case
# name | expected exit | message regex | arguments
set(cases
  "missing-vae|1|vae|${base}^--model^${WORK}/no_vae^-o^${WORK}/out/a.png"
  "unknown-scheduler|1|MysteryScheduler|${base}^--model^${WORK}/bad_sched^-o^${WORK}/out/b.png"
  "wrong-shape|1|caption|${base}^--model^${WORK}/bad_shape^-o^${WORK}/out/c.png"
  "size|2|multiples of 32|${base}^--model^${MODEL}^-W^100^-o^${WORK}/out/d.png"
  "prompt-file|1|broken.json|generate^--json-file^${WORK}/broken.json^--model^${MODEL}^--steps^2^-o^${WORK}/out/e.png"
  "unwritable|1|does not exist|${base}^--model^${MODEL}^-o^${WORK}/nowhere/f.png"
  "sampler|2|unknown sampler|${base}^--model^${MODEL}^--sampler^ddim^-o^${WORK}/out/g.png"
  "missing-model|1|does not exist|${base}^--model^${WORK}/absent^-o^${WORK}/out/h.png"
  "txt-file-line|1|broken.txt.*line 2|generate^--txt-file^${WORK}/broken.txt^--model^${MODEL}^-o^${WORK}/out/i.png"
  "latents-shape|1|holds 2 images|${base}^--model^${MODEL}^--latents^${DATA}/outputs.safetensors^-o^${WORK}/out/j.png"
  "latents-file|1|model_index.json|${base}^--model^${MODEL}^--latents^${MODEL}/model_index.json^-o^${WORK}/out/k.png"
  "sprint-sampler|1|scm only|${base}^--model^${SPRINT}^--sampler^flow-euler^-o^${WORK}/out/l.png"
  "steps|2|--steps must be|${base}^--model^${MODEL}^--steps^0^-o^${WORK}/out/m.png"
  "lora-other-model|1|meta.safetensors.*caption_projection.linear_1.*do not fit|${base}^--model^${MODEL}^--lora^${LORA}/meta.safetensors^-o^${WORK}/out/o.png"
  "lora-not-safetensors|1|model_index.json.*not a readable safetensors LoRA|${base}^--model^${MODEL}^--lora^${MODEL}/model_index.json:0.5^-o^${WORK}/out/p.png"
  "lora-scale|2|--lora scale|${base}^--model^${MODEL}^--lora^${LORA}/tiny_sana.safetensors:1e9^-o^${WORK}/out/q.png"
  "backend|any|[Cc][Uu][Dd][Aa]|${base}^--model^${MODEL}^--backend^cuda^-o^${WORK}/out/n.png")
include(${CMAKE_CURRENT_LIST_DIR}/cli_cases.cmake)
run_cli_cases(${cases})
