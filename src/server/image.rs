//! Probing disk image files, read-only: the one place that opens an image to
//! learn its format, size, backing file and encryption. The command line probes
//! the drives it names at startup (`cli::config`); the server probes the files
//! that requests name before the engine sees them ([`super::probe`]). Either
//! way the result enters the core as data ([`ImageProbe`]), so replay never
//! needs the file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::machine::config::{ImageInfo, ImageProbe};

/// The qcow/qcow2 magic, `QFI\xfb`.
pub const QCOW_MAGIC: [u8; 4] = *b"QFI\xfb";
/// Bytes of header read to recognise an image.
pub const IMAGE_HEADER_BYTES: usize = 48;
/// Longest backing file name read from a header (0.14 keeps at most 1023 bytes).
pub const BACKING_FILE_BYTES_MAX: u32 = 1023;
/// Probes an image file read-only: qcow2 (and qcow) by magic, else raw. `format=raw`
/// skips the magic check, as it does in QEMU.
pub fn probe_image(path: &Path, format: Option<&str>) -> io::Result<ImageInfo> {
    let mut file = File::open(path)?;
    let file_bytes = file.metadata()?.len();
    let mut header = Vec::with_capacity(IMAGE_HEADER_BYTES);
    (&mut file)
        .take(IMAGE_HEADER_BYTES as u64)
        .read_to_end(&mut header)?;
    let raw_info = ImageInfo {
        format: "raw".to_owned(),
        size_bytes: file_bytes,
        backing_file: None,
        encrypted: false,
    };
    if format == Some("raw") || header.len() < IMAGE_HEADER_BYTES || header[..4] != QCOW_MAGIC {
        return Ok(raw_info);
    }
    let version = be_u32(&header, 4);
    // qcow (version 1) keeps `mtime` before `size` and `crypt_method` further on.
    let (format, crypt_offset) = if version == 1 {
        ("qcow", 36)
    } else {
        ("qcow2", 32)
    };
    let backing_offset = be_u64(&header, 8);
    let backing_bytes = be_u32(&header, 16).min(BACKING_FILE_BYTES_MAX);
    let backing_file = if backing_offset == 0 || backing_bytes == 0 {
        None
    } else {
        let mut name = Vec::new();
        file.seek(SeekFrom::Start(backing_offset))?;
        file.take(u64::from(backing_bytes)).read_to_end(&mut name)?;
        Some(String::from_utf8_lossy(&name).into_owned())
    };
    Ok(ImageInfo {
        format: format.to_owned(),
        size_bytes: be_u64(&header, 24),
        backing_file,
        encrypted: be_u32(&header, crypt_offset) != 0,
    })
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes within the header"))
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes within the header"))
}

/// Probes a file a request names: what it holds, or [`ImageProbe::Missing`]
/// when it cannot be read.
pub fn probe(path: &str) -> ImageProbe {
    match probe_image(Path::new(path), None) {
        Ok(info) => ImageProbe::Found(info),
        Err(_) => ImageProbe::Missing,
    }
}

#[cfg(test)]
mod tests {
    use crate::test_util::write_temp;

    use super::*;

    /// A qcow2 header: version 2, `size_bytes`, optional backing name, crypt method.
    fn qcow2_header(size_bytes: u64, backing: Option<&str>, crypt: u32) -> Vec<u8> {
        let mut h = vec![0u8; 72];
        h[..4].copy_from_slice(&QCOW_MAGIC);
        h[4..8].copy_from_slice(&2u32.to_be_bytes());
        if let Some(name) = backing {
            h[8..16].copy_from_slice(&72u64.to_be_bytes());
            h[16..20].copy_from_slice(&u32::try_from(name.len()).unwrap().to_be_bytes());
            h.extend_from_slice(name.as_bytes());
        }
        h[20..24].copy_from_slice(&16u32.to_be_bytes());
        h[24..32].copy_from_slice(&size_bytes.to_be_bytes());
        h[32..36].copy_from_slice(&crypt.to_be_bytes());
        h
    }

    #[test]
    fn qcow2_image_reports_virtual_size_and_backing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(
            &dir,
            "q.qcow2",
            &qcow2_header(10 << 30, Some("base.img"), 0),
        );
        let info = probe_image(Path::new(&path), None).unwrap();
        assert_eq!(
            info,
            ImageInfo {
                format: "qcow2".to_owned(),
                size_bytes: 10 << 30,
                backing_file: Some("base.img".to_owned()),
                encrypted: false
            }
        );
    }

    #[test]
    fn qcow2_image_with_crypt_method_is_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "e.qcow2", &qcow2_header(1 << 20, None, 1));
        assert!(probe_image(Path::new(&path), None).unwrap().encrypted);
    }

    #[test]
    fn qcow2_image_with_format_raw_is_raw() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "q.qcow2", &qcow2_header(1 << 20, None, 0));
        assert_eq!(
            probe_image(Path::new(&path), Some("raw"))
                .unwrap()
                .size_bytes,
            72
        );
    }

    /// The backing file name probed from a qcow2 image that names `backing`.
    fn probed_backing(backing: &str) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "b.qcow2", &qcow2_header(1 << 20, Some(backing), 0));
        probe_image(Path::new(&path), None).unwrap().backing_file
    }

    /// [`BACKING_FILE_BYTES_MAX`] as a length.
    fn backing_max() -> usize {
        usize::try_from(BACKING_FILE_BYTES_MAX).unwrap()
    }

    #[test]
    fn backing_file_name_at_max_is_kept_whole() {
        let name = "b".repeat(backing_max());
        assert_eq!(probed_backing(&name), Some(name));
    }

    #[test]
    fn backing_file_name_past_max_is_cut_at_max() {
        let name = "b".repeat(backing_max());
        assert_eq!(probed_backing(&format!("{name}c")), Some(name));
    }

    #[test]
    fn backing_file_name_far_past_max_is_cut_at_max() {
        let long = "b".repeat(2000);
        assert_eq!(probed_backing(&long).map(|b| b.len()), Some(backing_max()));
    }

    #[test]
    fn short_file_with_magic_is_raw() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "s.img", &QCOW_MAGIC);
        assert_eq!(probe_image(Path::new(&path), None).unwrap().format, "raw");
    }

    #[test]
    fn missing_file_probes_as_missing() {
        assert_eq!(probe("/nonexistent/qmpsim.img"), ImageProbe::Missing);
    }
}
