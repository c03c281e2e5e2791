#include <cstdio>

#include "sana/backends/cuda/cuda.hpp"

int main() {
  std::printf("cuda consumer: device %s\n", sana::cuda::device_available() ? "available" : "not available (fine)");
  return 0;
}
