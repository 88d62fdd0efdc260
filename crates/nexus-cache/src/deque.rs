//! Intrusive doubly linked lists over slab indices: O(1) push, unlink and move, no allocation.
//! The links live in the slab's nodes; a `Deque` only knows its ends and total weight.

/// The "no node" index.
pub(crate) const NIL: u32 = u32::MAX;

/// Prev / next slab indices of one node (front = most recently used).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Links {
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

impl Links {
    pub(crate) const DETACHED: Self = Self {
        prev: NIL,
        next: NIL,
    };
}

/// Access to the links of slab nodes.
pub(crate) trait Linked {
    fn links(&mut self, i: u32) -> &mut Links;
}

/// One list: front is the most recently used end, back the least.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deque {
    front: u32,
    back: u32,
    /// Sum of the weights of the nodes in this list (kept by the caller).
    pub(crate) weight: u64,
}

impl Deque {
    pub(crate) const EMPTY: Self = Self {
        front: NIL,
        back: NIL,
        weight: 0,
    };

    /// The least recently used node.
    pub(crate) fn back(&self) -> Option<u32> {
        (self.back != NIL).then_some(self.back)
    }

    /// The node after `i` towards the front, if any.
    pub(crate) fn towards_front(slab: &mut impl Linked, i: u32) -> Option<u32> {
        let p = slab.links(i).prev;
        (p != NIL).then_some(p)
    }

    pub(crate) fn push_front(&mut self, slab: &mut impl Linked, i: u32) {
        *slab.links(i) = Links {
            prev: NIL,
            next: self.front,
        };
        if self.front == NIL {
            self.back = i;
        } else {
            slab.links(self.front).prev = i;
        }
        self.front = i;
    }

    pub(crate) fn unlink(&mut self, slab: &mut impl Linked, i: u32) {
        let Links { prev, next } = *slab.links(i);
        if prev == NIL {
            self.front = next;
        } else {
            slab.links(prev).next = next;
        }
        if next == NIL {
            self.back = prev;
        } else {
            slab.links(next).prev = prev;
        }
        *slab.links(i) = Links::DETACHED;
    }

    pub(crate) fn move_to_front(&mut self, slab: &mut impl Linked, i: u32) {
        if self.front != i {
            self.unlink(slab, i);
            self.push_front(slab, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    struct Slab(Vec<Links>);
    impl Linked for Slab {
        fn links(&mut self, i: u32) -> &mut Links {
            &mut self.0[i as usize]
        }
    }

    fn walk(d: &Deque, slab: &mut Slab) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = d.back();
        while let Some(i) = cur {
            out.push(i);
            cur = Deque::towards_front(slab, i);
        }
        out.reverse();
        out
    }

    #[test]
    fn matches_a_vecdeque() {
        let mut slab = Slab(vec![Links::DETACHED; 16]);
        let mut d = Deque::EMPTY;
        let mut model: VecDeque<u32> = VecDeque::new();
        let mut x = 12345u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % 16) as u32;
            let present = model.contains(&i);
            match (x >> 20) % 3 {
                0 if !present => {
                    d.push_front(&mut slab, i);
                    model.push_front(i);
                }
                1 if present => {
                    d.unlink(&mut slab, i);
                    model.retain(|&j| j != i);
                }
                2 if present => {
                    d.move_to_front(&mut slab, i);
                    model.retain(|&j| j != i);
                    model.push_front(i);
                }
                _ => {}
            }
            assert_eq!(walk(&d, &mut slab), Vec::from(model.clone()));
            assert_eq!(d.back(), model.back().copied());
        }
    }
}
