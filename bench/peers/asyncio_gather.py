"""asyncio_gather.py N CAP [suspend]: the Python peer of gather-bench.

asyncio.gather over N trivially-completing coroutines, capped by an asyncio.Semaphore(CAP)
when CAP > 0, exactly as the users we write for do it today; with `suspend`, each first
awaits asyncio.sleep(0) (one pass through the event loop). Last line:
`asyncio-gather N CAP seconds items_per_s peak_rss_kib`
"""
import asyncio
import resource
import sys
import time


async def trivial(x, sem, suspend):
    if sem is None:
        if suspend:
            await asyncio.sleep(0)
        return x + 1
    async with sem:
        if suspend:
            await asyncio.sleep(0)
        return x + 1


async def main(n, cap, suspend):
    sem = asyncio.Semaphore(cap) if cap > 0 else None
    return await asyncio.gather(*(trivial(i, sem, suspend) for i in range(n)),
                                return_exceptions=True)


if __name__ == "__main__":
    n, cap = int(sys.argv[1]), int(sys.argv[2])
    suspend = len(sys.argv) > 3 and sys.argv[3] == "suspend"
    t0 = time.perf_counter()
    out = asyncio.run(main(n, cap, suspend))
    seconds = time.perf_counter() - t0
    errors = sum(1 for i, r in enumerate(out) if r != i + 1)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"asyncio-gather {n} {cap} {seconds:.3f} {n / seconds:.0f} {rss}")
    sys.exit(1 if errors else 0)
