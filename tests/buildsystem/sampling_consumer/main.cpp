// Includes every header of the sampling library that exists.
#if __has_include("sana/sampling.hpp")
#include "sana/sampling.hpp"
#endif
int main() { return 0; }
