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
)
include(${CMAKE_CURRENT_LIST_DIR}/cli_cases.cmake)
run_cli_cases(${cases})
