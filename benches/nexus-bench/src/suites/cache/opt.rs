//! Bélády's optimal policy with bypass (the hit-ratio ceiling): on a miss with the cache full,
//! the key used furthest in the future among the held ones and the new one is the one not kept
//! (the new key itself is simply not admitted when it is that key).

use std::collections::BTreeSet;

/// Hits of OPT with `capacity` unit-weight slots over `keys` (dense ids below `distinct`).
pub(super) fn hits(keys: &[u32], distinct: usize, capacity: usize) -> u64 {
    let n = keys.len();
    // next[i]: position of the next access to keys[i], or n + key when there is none (unique).
    let mut next = vec![0u64; n];
    let mut last = vec![u64::MAX; distinct];
    for i in (0..n).rev() {
        let k = keys[i] as usize;
        next[i] = if last[k] == u64::MAX {
            (n + k) as u64
        } else {
            last[k]
        };
        last[k] = i as u64;
    }
    let key_of = |pos: u64| -> usize {
        if pos >= n as u64 {
            pos as usize - n
        } else {
            keys[pos as usize] as usize
        }
    };
    // Held keys by their next use; `held[k]` is k's entry in the set (u64::MAX: not held).
    let mut by_next: BTreeSet<u64> = BTreeSet::new();
    let mut held = vec![u64::MAX; distinct];
    let mut hits = 0;
    for (i, &k) in keys.iter().enumerate() {
        let k = k as usize;
        let nu = next[i];
        if held[k] != u64::MAX {
            hits += 1;
            by_next.remove(&held[k]);
        } else if by_next.len() >= capacity {
            let furthest = *by_next.last().expect("capacity >= 1");
            if nu > furthest {
                continue; // bypass: the new key is needed last
            }
            by_next.pop_last();
            held[key_of(furthest)] = u64::MAX;
        }
        by_next.insert(nu);
        held[k] = nu;
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exhaustive optimum for tiny inputs: try every choice (keep or evict whom) at every miss.
    fn brute(keys: &[u32], capacity: usize, held: &mut Vec<u32>) -> u64 {
        let Some((&k, rest)) = keys.split_first() else {
            return 0;
        };
        if held.contains(&k) {
            return 1 + brute(rest, capacity, held);
        }
        // Bypass is always allowed.
        let mut best = brute(rest, capacity, held);
        if held.len() < capacity {
            held.push(k);
            best = best.max(brute(rest, capacity, held));
            held.pop();
        } else {
            for j in 0..held.len() {
                let old = std::mem::replace(&mut held[j], k);
                best = best.max(brute(rest, capacity, held));
                held[j] = old;
            }
        }
        best
    }

    #[test]
    fn matches_exhaustive_search() {
        let mut x = 99u64;
        for case in 0..200 {
            let len = 4 + case % 9;
            let keys: Vec<u32> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 5) as u32
                })
                .collect();
            for capacity in 1..=3 {
                assert_eq!(
                    hits(&keys, 5, capacity),
                    brute(&keys, capacity, &mut Vec::new()),
                    "{keys:?} capacity {capacity}"
                );
            }
        }
    }
}
