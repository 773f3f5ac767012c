import CTailcastSystem

/// glibc's malloc maps a block of 128 KiB or more on its own (the bar rises to the largest such block
/// freed, at most 32 MiB) and gives the top of a heap back to the kernel once twice the bar is free.
/// The agent and the watcher allocate buffers of up to a megabyte for every message, and at full speed
/// they kept landing on fresh pages: page faults were 12 % of `run`'s CPU (perf, 200 MiB through
/// `run -- cat`). Set by hand (which turns glibc's adjustment off), blocks under 8 MiB come from the heap
/// and up to 32 MiB of free heap is kept: `Benchmarks/bench.py --only throughput` went from 76-84 MB/s
/// to 85-96 MB/s (agent CPU 2.4-2.5 s to 2.1-2.3 s), peak memory unchanged (46-50 MiB). Not for `serve`:
/// its memory is per watcher, and what it frees should go back.
enum MallocTuning {
    static func forStreaming() {
        // A refusal leaves glibc's defaults: slower, nothing else.
        _ = tailcast_malloc_thresholds(8 << 20, 32 << 20)
    }
}
