//! Progress accounting for the files of one call: each file adds its bytes as they arrive,
//! and its whole size once it is settled (done or failed), so the bar ends at the total
//! however each file ended and no file is counted twice.

/// Bytes counted per file of a call.
#[derive(Debug)]
pub struct Tally {
    sizes: Vec<u64>,
    counted: Vec<u64>,
    settled: Vec<bool>,
}

impl Tally {
    /// Files of these sizes, none counted yet.
    pub fn new(sizes: Vec<u64>) -> Self {
        let n = sizes.len();
        Tally {
            sizes,
            counted: vec![0; n],
            settled: vec![false; n],
        }
    }

    /// Bytes of `index` counted before this call (a resumed file's partial).
    pub fn already(mut self, index: usize, bytes: u64) -> Self {
        if let Some(c) = self.counted.get_mut(index) {
            *c = bytes;
        }
        self
    }

    /// `bytes` of `index` arrived: how much the bar moves.
    pub fn add(&mut self, index: usize, bytes: u64) -> u64 {
        match self.counted.get_mut(index) {
            Some(c) if !self.settled[index] => {
                *c += bytes;
                bytes
            }
            _ => 0,
        }
    }

    /// `index` is done or failed: the rest of its size, the first time only.
    pub fn settle(&mut self, index: usize) -> u64 {
        match self.settled.get_mut(index) {
            Some(s) if !*s => {
                *s = true;
                self.sizes[index].saturating_sub(self.counted[index])
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_adds_up_to_its_size_once() {
        let mut t = Tally::new(vec![10, 20, 5]).already(1, 8);
        let mut bar = 8;
        bar += t.add(0, 4);
        bar += t.add(0, 3);
        bar += t.settle(0); // failed after 7 of 10 bytes
        bar += t.add(1, 12);
        bar += t.settle(1); // done
        bar += t.settle(2); // never sent
        assert_eq!(bar, 35);
        // Settled files move the bar no more.
        assert_eq!(t.settle(0), 0);
        assert_eq!(t.add(1, 100), 0);
        assert_eq!(t.settle(7), 0);
    }

    #[test]
    fn more_bytes_than_the_listed_size_do_not_go_negative() {
        let mut t = Tally::new(vec![3]);
        assert_eq!(t.add(0, 5), 5);
        assert_eq!(t.settle(0), 0);
    }
}
