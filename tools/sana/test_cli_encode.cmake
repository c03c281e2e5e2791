# ctest driver for `sana encode` on the text fixtures (trained tokenizer + tiny Gemma-2): the run succeeds,
# prints the kept token ids, writes the file; bad flags are usage errors. The numbers themselves are checked
# against SanaPipeline.encode_prompt by tests/text/test_encode_prompt.cpp.
#   cmake -DSANA=<sana> -DDATA=<tests/data/text> -DOUT=<file> -P test_cli_encode.cmake
file(REMOVE ${OUT})
execute_process(COMMAND ${SANA} encode --tokenizer ${DATA}/tokenizer --text-encoder ${DATA}/gemma2_tiny
                        --prompt "A cat sleeping on a sunny windowsill" --prompt "一只可爱的小猫 🐱" --out ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sana encode: exit ${rc}: ${err}")
endif()
if(NOT out MATCHES "prompt 0: .*ids: 2 " OR NOT out MATCHES "kept tokens: [0-9]+ of 300 \\(window of 727, CHI tokens 429\\)")
  message(FATAL_ERROR "sana encode: unexpected output:\n${out}")
endif()
if(NOT EXISTS ${OUT})
  message(FATAL_ERROR "sana encode: ${OUT} was not written")
endif()
foreach(bad "--prompt;x" "--model;m;--prompt;x;--out;o;--dtype;f64" "--model;m;--prompt;x;--out;o;--max-sequence-length;0")
  execute_process(COMMAND ${SANA} encode ${bad} RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  if(NOT rc EQUAL 2)
    message(FATAL_ERROR "sana encode ${bad}: expected exit 2, got ${rc} (${e})")
  endif()
endforeach()
# Memory: 100 distinct prompts of 8192 tokens need ~115 GiB of attention scores; refused before any allocation.
set(many "")
foreach(i RANGE 1 100)
  list(APPEND many --prompt "prompt number ${i}")
endforeach()
execute_process(COMMAND ${SANA} encode --tokenizer ${DATA}/tokenizer --text-encoder ${DATA}/gemma2_tiny ${many}
                        --max-sequence-length 8192 --no-negative --out ${OUT}.big
                RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
if(NOT rc EQUAL 1 OR NOT e MATCHES "encoding 100 prompt.s. of 8[0-9]+ tokens needs about [0-9.]+ GiB, more than the"
   OR EXISTS ${OUT}.big)
  message(FATAL_ERROR "sana encode with 100 prompts of 8192 tokens: expected a memory refusal, got ${rc}: ${e}")
endif()
