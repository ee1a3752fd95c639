import CMalloc

/// The process's allocator settings.
public enum MemoryTuning {
    /// Allocations of 128 KiB or more are mapped on their own and unmapped when freed, as glibc
    /// does by default until the first such block is freed. After that, glibc raises the
    /// threshold to the largest block freed so far, and every later large block comes from the
    /// heap. Those blocks are a bucket's report rows, its encoded pieces and the state's
    /// buffers, built and freed one after another. The heap then keeps the freed ones, and
    /// peak memory grows by the blocks it could not reuse. Measured: a replay of 300k lines of
    /// 100k keys peaked at 134.5 MB with glibc's adjustment and at 127 MB without it.
    /// Setting the threshold turns the adjustment off. Call it first thing in `main`.
    public static func returnLargeBlocksToTheSystem() {
        _ = mallopt(M_MMAP_THRESHOLD, 128 << 10)
    }
}
