/// @file
/// Project-wide macros: the ABI namespace and the host/device qualifier that collapses without nvcc.
#pragma once

#ifndef SANA_ABI_NAMESPACE
#define SANA_ABI_NAMESPACE v0
#endif

#if defined(__CUDACC__)
#define SANA_HOST_DEVICE __host__ __device__
#else
#define SANA_HOST_DEVICE
#endif

#define SANA_VERSION_MAJOR 0
#define SANA_VERSION_MINOR 1
#define SANA_VERSION_PATCH 0
