//! Numbers from a buffer's bytes (numpy arrays, `array.array`), by its
//! `struct` format: floats, signed and unsigned integers of 1 to 8 bytes in
//! native byte order. Other formats are not read here (the column is then read
//! value by value).

/// A number decoded from a buffer item.
pub(super) enum Number {
    Float(f64),
    Signed(i64),
    Unsigned(u64),
}

/// A buffer's item type: a float, signed or unsigned integer of so many bytes,
/// in native byte order.
#[derive(Clone, Copy)]
pub(super) enum Format {
    Float(usize),
    Signed(usize),
    Unsigned(usize),
}

/// Decodes every item of `data` into `out`; false if one does not convert. The
/// format is matched once, and each loop is compiled for its item size.
pub(super) fn decode_into<T>(
    data: &[u8],
    format: Format,
    out: &mut Vec<T>,
    convert: impl Fn(Number) -> Option<T>,
) -> bool {
    let f = &convert;
    match format {
        Format::Float(4) => items(data, out, |b| {
            f(Number::Float(f32::from_ne_bytes(b).into()))
        }),
        Format::Float(8) => items(data, out, |b| f(Number::Float(f64::from_ne_bytes(b)))),
        Format::Signed(1) => items(data, out, |b| {
            f(Number::Signed(i8::from_ne_bytes(b).into()))
        }),
        Format::Signed(2) => items(data, out, |b| {
            f(Number::Signed(i16::from_ne_bytes(b).into()))
        }),
        Format::Signed(4) => items(data, out, |b| {
            f(Number::Signed(i32::from_ne_bytes(b).into()))
        }),
        Format::Signed(8) => items(data, out, |b| f(Number::Signed(i64::from_ne_bytes(b)))),
        Format::Unsigned(1) => items(data, out, |b| {
            f(Number::Unsigned(u8::from_ne_bytes(b).into()))
        }),
        Format::Unsigned(2) => items(data, out, |b| {
            f(Number::Unsigned(u16::from_ne_bytes(b).into()))
        }),
        Format::Unsigned(4) => items(data, out, |b| {
            f(Number::Unsigned(u32::from_ne_bytes(b).into()))
        }),
        Format::Unsigned(8) => items(data, out, |b| f(Number::Unsigned(u64::from_ne_bytes(b)))),
        _ => false,
    }
}

/// Every `N`-byte item of `data`, converted into `out`; false if one does not.
fn items<const N: usize, T>(
    data: &[u8],
    out: &mut Vec<T>,
    convert: impl Fn([u8; N]) -> Option<T>,
) -> bool {
    out.reserve(data.len() / N);
    for item in data.chunks_exact(N) {
        match <[u8; N]>::try_from(item).ok().and_then(&convert) {
            Some(value) => out.push(value),
            None => return false,
        }
    }
    true
}

/// The item type of `format` (a `struct` code in native order) and `size`, if
/// it is a number this reads.
pub(super) fn format_of(format: &str, size: usize) -> Option<Format> {
    let code = match format.as_bytes() {
        [code] | [b'@' | b'=', code] => *code,
        [b'<', code] if cfg!(target_endian = "little") => *code,
        [b'>' | b'!', code] if cfg!(target_endian = "big") => *code,
        _ => return None,
    };
    let format = match code {
        b'f' | b'd' => Format::Float(size),
        b'b' | b'h' | b'i' | b'l' | b'q' | b'n' => Format::Signed(size),
        b'B' | b'H' | b'I' | b'L' | b'Q' | b'N' | b'?' => Format::Unsigned(size),
        _ => return None,
    };
    match format {
        Format::Float(4 | 8) | Format::Signed(1 | 2 | 4 | 8) | Format::Unsigned(1 | 2 | 4 | 8) => {
            Some(format)
        }
        _ => None,
    }
}
