// Real Sana shapes for the benchmarks: the installed sana/bench/shapes.hpp.
#pragma once

#include "sana/bench/shapes.hpp"
