//! Splitting independent per-item work over OS threads, results in input
//! order, for the checks that dominate ingest and founding.

/// Applies `f` to every item on up to `threads` threads (clamped to 1..=64),
/// in contiguous parts, and returns the results in input order; with one
/// thread or fewer than `min_parallel` items it runs on the calling thread.
/// A panic in `f` is resumed on the caller.
pub(crate) fn map_in_threads<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    min_parallel: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, 64);
    if threads == 1 || items.len() < min_parallel.max(2) {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    let mut rest = items;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        parts.push(std::mem::replace(&mut rest, tail));
    }
    parts.push(rest);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            parts.into_iter().map(|part| scope.spawn(move || part.into_iter().map(f).collect::<Vec<_>>())).collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::map_in_threads;

    #[test]
    fn results_keep_input_order_for_any_thread_count() {
        let items: Vec<u32> = (0..1000).collect();
        let expected: Vec<u32> = items.iter().map(|i| i * 3).collect();
        for threads in [0, 1, 2, 3, 7, 64, 1000] {
            assert_eq!(map_in_threads(items.clone(), threads, 64, |i| i * 3), expected);
        }
        assert_eq!(map_in_threads(Vec::<u32>::new(), 4, 0, |i| i), Vec::<u32>::new());
    }
}
