// CUDA graph recording for StepGraph<cuda_backend> (sana/backends/cuda/graph.hpp).
#include "sana/backends/cuda/graph.hpp"

#include <cuda_runtime.h>

#include "check.hpp"
#include "context_impl.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda {

RecordedGraph::~RecordedGraph() {
  if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
}

void RecordedGraph::begin_capture(Context& ctx) {
  // Relaxed: other threads' CUDA calls (and cudaMalloc-free API use here) do not invalidate the capture.
  SANA_CUDA_CHECK(cudaStreamBeginCapture(ctx.impl().stream, cudaStreamCaptureModeRelaxed));
}

RecordedGraph RecordedGraph::end_capture(Context& ctx) {
  cudaGraph_t graph = nullptr;
  SANA_CUDA_CHECK(cudaStreamEndCapture(ctx.impl().stream, &graph));
  RecordedGraph r;
  r.graph_ = graph;
  cudaGraphExec_t exec = nullptr;
  SANA_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  r.exec_ = exec;
  return r;
}

void RecordedGraph::abandon_capture(Context& ctx) noexcept {
  cudaStream_t s = ctx.impl().stream;
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(s, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t g = nullptr;
    cudaStreamEndCapture(s, &g);  // fails for an invalidated capture, but ends it either way
    if (g) cudaGraphDestroy(g);
  }
  cudaGetLastError();  // clear the sticky-free error the failed capture left
}

void RecordedGraph::launch(Context& ctx) const {
  SANA_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), ctx.impl().stream));
}

} // namespace cuda
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
