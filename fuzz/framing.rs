//! Framing: any chunking of the same bytes yields the same frames (split
//! invariance), and arbitrary bytes never panic the splitter.

use proptest::prelude::*;
use qmpsim::wire::framing::Framer;

/// Bytes that look like QMP traffic, with junk mixed in.
fn qmpish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(br#"{"execute":"query-status"}"#.to_vec()),
        Just(br#"{"execute":"stop","id":[1,{"a":'b'}]}"#.to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"-0.5e3 01 true null %d".to_vec()),
        Just(b"\xff".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(crate::config("fuzz/regressions/framing.txt"))]

    #[test]
    fn framing_any_chunking_gives_same_frames(bytes in qmpish(), cuts in proptest::collection::vec(1usize..16, 1..64)) {
        let mut whole = Framer::new();
        let expected = whole.feed(&bytes);
        let mut split = Framer::new();
        let mut got = Vec::new();
        let mut rest: &[u8] = &bytes;
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            got.extend(split.feed(&rest[..n]));
            rest = &rest[n..];
            i += 1;
        }
        prop_assert_eq!(got, expected);
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn framing_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut f = Framer::new();
        let frames = f.feed(&bytes);
        prop_assert!(frames.len() <= bytes.len());
    }
}
