//! The byte reader both fuzz targets decode their input with: each byte
//! read once, in order, and zeros past the end (so that every input,
//! however short, decodes to a whole program). Each target adds the
//! readers of its own (keys, values, fields) in an `impl` of its own.

pub struct Input<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl Input<'_> {
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}
