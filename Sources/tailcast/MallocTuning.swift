import CTailcastSystem

/// glibc's malloc maps a block of 128 KiB or more on its own (the bar rises to the largest such block
/// freed, at most 32 MiB) and gives the top of a heap back to the kernel once twice the bar is free.
/// The agent and the watcher allocate buffers of up to a megabyte for every message, and at full speed
/// they kept landing on fresh pages: page faults were 12 % of `run`'s CPU (perf, 200 MiB through
/// `run -- cat`). Set by hand (which turns glibc's adjustment off), blocks under 8 MiB come from the heap
/// and up to 32 MiB of free heap is kept. The same settings given through glibc's `MALLOC_` environment
/// variables took `Benchmarks/bench.py --only throughput` from 76-82 MB/s to 95-110 MB/s in two
/// alternating pairs (agent CPU 2.5-2.7 s to 1.9-2.2 s), peak memory unchanged (46-49 MiB). Not for
/// `serve`: its memory is per watcher, and what it frees should go back.
enum MallocTuning {
    static func forStreaming() {
        // A refusal leaves glibc's defaults: slower, nothing else.
        _ = tailcast_malloc_thresholds(8 << 20, 32 << 20)
    }
}
