/// @file
/// `StepGraph<cuda_backend>`: records one run of the work as a CUDA graph and replays it.
///
/// Run 1 executes the work eagerly: it lets the Workspace, the cuBLASLt plan cache and its scratch
/// settle (they allocate on first use, which a recording must not). Run 2 records the work by stream
/// capture (relaxed mode) and launches the recording; later runs only launch it — one host call instead
/// of hundreds of kernel launches per step. If capture fails (some op synchronised, uploaded or
/// allocated), the capture is ended cleanly, `note()` says why, and every later run is eager: the
/// results are the same, only the launch overhead stays.
/// Host-only header, like cuda.hpp: the CUDA calls live in backends/cuda/src/graph.cpp.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "sana/backend/step_graph.hpp"
#include "sana/backends/cuda/cuda.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda {

/// An instantiated CUDA graph recorded from a stream (opaque handles; move-only).
class RecordedGraph {
public:
  RecordedGraph() = default;
  ~RecordedGraph();
  RecordedGraph(RecordedGraph&& o) noexcept : graph_(std::exchange(o.graph_, nullptr)), exec_(std::exchange(o.exec_, nullptr)) {}
  RecordedGraph& operator=(RecordedGraph&& o) noexcept {
    std::swap(graph_, o.graph_);
    std::swap(exec_, o.exec_);
    return *this;
  }
  RecordedGraph(const RecordedGraph&) = delete;
  RecordedGraph& operator=(const RecordedGraph&) = delete;

  /// Starts capturing `ctx`'s stream (cudaStreamCaptureModeRelaxed).
  static void begin_capture(Context& ctx);
  /// Ends the capture and instantiates it; throws "[cuda] ..." (leaving no capture open) when the
  /// captured work was invalid.
  static RecordedGraph end_capture(Context& ctx);
  /// Ends a capture that failed part-way and discards it, so the stream is usable again.
  static void abandon_capture(Context& ctx) noexcept;
  /// Queues the recording on `ctx`'s stream.
  void launch(Context& ctx) const;
  bool empty() const { return exec_ == nullptr; }

private:
  void* graph_ = nullptr;  // cudaGraph_t
  void* exec_ = nullptr;   // cudaGraphExec_t
};

} // namespace cuda

template <>
class StepGraph<cuda_backend> {
public:
  template <class Work>
  void run(cuda::Context& ctx, Work&& work) {
    if (runs_++ == 0 || failed_) {
      work();
      return;
    }
    if (graph_.empty()) {
      cuda::RecordedGraph::begin_capture(ctx);
      try {
        work();
        graph_ = cuda::RecordedGraph::end_capture(ctx);
      } catch (const std::exception& e) {
        cuda::RecordedGraph::abandon_capture(ctx);
        failed_ = true;
        note_ = std::string("recording the step failed, running it eagerly: ") + e.what();
        work();  // this run's results must still be produced
        return;
      }
    }
    graph_.launch(ctx);
  }
  void reset() {
    graph_ = {};
    runs_ = 0;
    failed_ = false;
    note_.clear();
  }
  bool replaying() const { return !graph_.empty(); }
  const std::string& note() const { return note_; }

private:
  cuda::RecordedGraph graph_;
  long runs_ = 0;
  bool failed_ = false;
  std::string note_;
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
