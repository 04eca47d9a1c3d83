//! Decompression of a batch's records section as a stream, with bounded memory: the four codecs
//! Kafka clients use (gzip, snappy, lz4, zstd), each behind `std::io::Read`, so a reader walks the
//! records of a compressed batch without ever holding the whole decompressed payload.
//!
//! What each codec may allocate, whatever the bytes say:
//! - gzip (`flate2`, concatenated members as Java's `GZIPInputStream`): its 32 KiB window.
//! - lz4 (the LZ4 frame format Kafka uses for v2 batches): one block, at most 4 MiB. The frame
//!   descriptor is checked as Kafka's `Lz4BlockInputStream` checks it: version 01, reserved
//!   bits clear, independent blocks (lz4js, which some kafkajs setups use, writes dependent-block
//!   frames; Kafka refuses them, so Gregor does too), a block size id of 4-7.
//! - zstd: a window of at most 2^[`ZSTD_WINDOW_LOG_MAX`] bytes; a frame asking for more is refused.
//! - snappy: Kafka's xerial framing (`\x82SNAPPY\0`, then length-prefixed raw blocks) decodes one
//!   block at a time; a raw (unframed) payload, which librdkafka writes, is one block. A block's
//!   declared size must be at most [`SNAPPY_MAX_RATIO`] times its compressed size (no snappy
//!   stream expands more) and within the caller's limit before it is allocated.
//!
//! The caller bounds the total decompressed bytes (see [`super::reader`]).

use std::io::{self, Read};

/// Largest zstd window accepted: 32 MiB. zstd's own default limit is 2^27; compression levels up
/// to 19 use at most 2^23, so only the `--ultra` levels are refused.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 25;

/// No snappy block decompresses to more than ~21.3 times its size (a 3-byte copy element
/// yields at most 64 bytes); a larger declared size is corrupt.
pub const SNAPPY_MAX_RATIO: usize = 22;

/// xerial snappy-java's stream header magic, which Kafka's Java client writes.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
/// Magic plus two i32 versions.
const XERIAL_HEADER_LEN: usize = 16;

/// The codec ids of a batch's attributes.
pub const NONE: u8 = 0;
/// gzip.
pub const GZIP: u8 = 1;
/// snappy.
pub const SNAPPY: u8 = 2;
/// lz4.
pub const LZ4: u8 = 3;
/// zstd.
pub const ZSTD: u8 = 4;

/// The codec's name, for messages.
pub fn name(codec: u8) -> &'static str {
    match codec {
        NONE => "none",
        GZIP => "gzip",
        SNAPPY => "snappy",
        LZ4 => "lz4",
        ZSTD => "zstd",
        _ => "unknown",
    }
}

/// A streaming decoder over `data` (a batch's records section) for `codec` (1-4). `block_limit`
/// bounds what a single snappy block may allocate. Errors in the data show up as `io::Error`s
/// from `read`, or here for headers that are wrong from the first byte.
pub fn decoder<'a>(
    codec: u8,
    data: &'a [u8],
    block_limit: usize,
) -> io::Result<Box<dyn Read + 'a>> {
    match codec {
        GZIP => Ok(Box::new(flate2::read::MultiGzDecoder::new(data))),
        SNAPPY => Ok(Box::new(SnappyReader::new(data, block_limit)?)),
        LZ4 => {
            check_lz4_frame(data)?;
            Ok(Box::new(lz4::Decoder::new(data)?))
        }
        ZSTD => {
            let mut d = zstd::stream::read::Decoder::with_buffer(data)?;
            d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
            Ok(Box::new(d))
        }
        other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unknown compression codec {other}"),
        )),
    }
}

/// Compresses `data` (a records section) with `codec` (0-4) as Kafka's producers do, for the
/// batches the log cleaner rewrites: gzip, snappy in xerial framing (what Kafka's Java client
/// writes and every client reads), the LZ4 frame format with independent blocks, zstd at level 3.
pub fn encode(codec: u8, data: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write;
    match codec {
        NONE => Ok(data.to_vec()),
        GZIP => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data)?;
            e.finish()
        }
        SNAPPY => {
            let mut out = XERIAL_MAGIC.to_vec();
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            // xerial's default block size.
            for chunk in data.chunks(32 * 1024) {
                let block = enc
                    .compress_vec(chunk)
                    .map_err(|e| io::Error::other(format!("snappy: {e}")))?;
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        LZ4 => {
            let mut e = lz4::EncoderBuilder::new()
                .block_mode(lz4::BlockMode::Independent)
                .build(Vec::new())?;
            e.write_all(data)?;
            let (out, r) = e.finish();
            r.map(|()| out)
        }
        ZSTD => zstd::encode_all(data, 3),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown compression codec {other}"),
        )),
    }
}

fn corrupt(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Snappy as Kafka clients write it: xerial-framed blocks (Java, kafkajs) or one raw block
/// (librdkafka), decoded a block at a time.
struct SnappyReader<'a> {
    /// Compressed bytes not yet decoded.
    rest: &'a [u8],
    /// Whether `rest` is a sequence of length-prefixed blocks (else one raw block).
    framed: bool,
    /// The current block, decoded.
    block: Vec<u8>,
    /// Read position in `block`.
    pos: usize,
    /// Largest block allowed.
    block_limit: usize,
}

impl<'a> SnappyReader<'a> {
    fn new(data: &'a [u8], block_limit: usize) -> io::Result<Self> {
        let framed = data.starts_with(XERIAL_MAGIC);
        let rest = if framed {
            data.get(XERIAL_HEADER_LEN..)
                .ok_or_else(|| corrupt("snappy: truncated xerial header"))?
        } else {
            data
        };
        if rest.is_empty() && !framed {
            return Err(corrupt("snappy: no data"));
        }
        Ok(SnappyReader {
            rest,
            framed,
            block: Vec::new(),
            pos: 0,
            block_limit,
        })
    }

    /// Decodes the next block into `self.block`; false at the end of the stream.
    fn next_block(&mut self) -> io::Result<bool> {
        if self.rest.is_empty() {
            return Ok(false);
        }
        let compressed = if self.framed {
            let Some((len, tail)) = self.rest.split_first_chunk::<4>() else {
                return Err(corrupt("snappy: truncated block length"));
            };
            let len = u32::from_be_bytes(*len) as usize;
            if len > tail.len() {
                return Err(corrupt(format!(
                    "snappy: block of {len} bytes, {} left",
                    tail.len()
                )));
            }
            let (block, after) = tail.split_at(len);
            self.rest = after;
            block
        } else {
            std::mem::take(&mut self.rest)
        };
        let size =
            snap::raw::decompress_len(compressed).map_err(|e| corrupt(format!("snappy: {e}")))?;
        if size
            > SNAPPY_MAX_RATIO
                .saturating_mul(compressed.len())
                .saturating_add(64)
        {
            return Err(corrupt(format!(
                "snappy: a {}-byte block cannot hold {size} bytes",
                compressed.len()
            )));
        }
        if size > self.block_limit {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "snappy block of {size} bytes exceeds the limit of {}",
                    self.block_limit
                ),
            ));
        }
        self.block.clear();
        self.block.resize(size, 0);
        snap::raw::Decoder::new()
            .decompress(compressed, &mut self.block)
            .map_err(|e| corrupt(format!("snappy: {e}")))?;
        self.pos = 0;
        Ok(true)
    }
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.block.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.block.len() - self.pos);
        out[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The LZ4 frame's magic number, little-endian on the wire.
const LZ4_MAGIC: u32 = 0x184D_2204;

/// Kafka's checks of an LZ4 frame descriptor (`Lz4BlockOutputStream.FLG/BD.validate`).
fn check_lz4_frame(data: &[u8]) -> io::Result<()> {
    let bad = |what: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("lz4 frame: {what}"),
        ))
    };
    if data.len() < 7 {
        return bad("shorter than its header");
    }
    if u32::from_le_bytes([data[0], data[1], data[2], data[3]]) != LZ4_MAGIC {
        return bad("not an LZ4 frame (bad magic)");
    }
    let (flg, bd) = (data[4], data[5]);
    if flg >> 6 != 1 {
        return bad(&format!("version {} is unsupported", flg >> 6));
    }
    if flg & 0x02 != 0 || bd & 0x8f != 0 {
        return bad("reserved bits must be 0");
    }
    if flg & 0x20 == 0 {
        return bad("dependent block stream is unsupported");
    }
    if !(4..=7).contains(&((bd >> 4) & 7)) {
        return bad("block size is unsupported");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(codec: u8, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decoder(codec, data, 1 << 20)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn snappy_raw_and_xerial_framed() {
        let text = b"hello hello hello hello snappy".repeat(100);
        let raw = snap::raw::Encoder::new().compress_vec(&text).unwrap();
        assert_eq!(read_all(SNAPPY, &raw).unwrap(), text);
        let mut framed = XERIAL_MAGIC.to_vec();
        framed.extend_from_slice(&1i32.to_be_bytes());
        framed.extend_from_slice(&1i32.to_be_bytes());
        for chunk in text.chunks(1000) {
            let b = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
            framed.extend_from_slice(&(b.len() as u32).to_be_bytes());
            framed.extend_from_slice(&b);
        }
        assert_eq!(read_all(SNAPPY, &framed).unwrap(), text);
        // A block length past the end, and a block claiming more than snappy can expand to.
        let mut bad = framed[..XERIAL_HEADER_LEN].to_vec();
        bad.extend_from_slice(&1000u32.to_be_bytes());
        bad.extend_from_slice(&[0; 10]);
        assert!(read_all(SNAPPY, &bad).is_err());
        let lie = [0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0];
        let e = read_all(SNAPPY, &lie).unwrap_err();
        assert!(e.to_string().contains("cannot hold"), "{e}");
    }

    #[test]
    fn lz4_frames_kafka_refuses_are_refused() {
        let text = b"lz4 lz4 lz4 lz4 lz4 lz4 lz4".repeat(50);
        let mut enc = lz4::EncoderBuilder::new()
            .block_mode(lz4::BlockMode::Independent)
            .build(Vec::new())
            .unwrap();
        std::io::Write::write_all(&mut enc, &text).unwrap();
        let (good, r) = enc.finish();
        r.unwrap();
        assert_eq!(read_all(LZ4, &good).unwrap(), text);
        // Clear the block-independence flag (what lz4js writes), fixing the header checksum
        // so only the flag is wrong.
        let mut dependent = good.clone();
        dependent[4] &= !0x20;
        let e = read_all(LZ4, &dependent).unwrap_err();
        assert!(e.to_string().contains("dependent block"), "{e}");
        let mut reserved = good.clone();
        reserved[5] |= 0x01;
        assert!(read_all(LZ4, &reserved).is_err());
        assert!(read_all(LZ4, &good[..5]).is_err());
    }

    #[test]
    fn every_codec_encodes_what_it_decodes() {
        let text = b"compacted records compacted records ".repeat(3000);
        for codec in [NONE, GZIP, SNAPPY, LZ4, ZSTD] {
            let packed = encode(codec, &text).unwrap();
            if codec != NONE {
                assert!(packed.len() < text.len() / 4, "{}", name(codec));
                assert_eq!(read_all(codec, &packed).unwrap(), text, "{}", name(codec));
            }
        }
        assert!(encode(9, b"x").is_err());
    }

    #[test]
    fn garbage_is_an_error_for_every_codec() {
        for codec in [GZIP, SNAPPY, LZ4, ZSTD] {
            assert!(
                read_all(codec, b"this is not compressed at all").is_err(),
                "{}",
                name(codec)
            );
        }
        assert!(decoder(7, b"", 10).is_err());
    }

    #[test]
    fn zstd_window_over_the_limit_is_refused() {
        let data = vec![7u8; 1 << 16];
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        enc.window_log(ZSTD_WINDOW_LOG_MAX + 2).unwrap();
        enc.include_contentsize(false).unwrap();
        std::io::Write::write_all(&mut enc, &data).unwrap();
        let big_window = enc.finish().unwrap();
        assert!(read_all(ZSTD, &big_window).is_err());
        let ok = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(read_all(ZSTD, &ok).unwrap(), data);
    }
}
