//! Helpers shared by tests of several modules.

/// `text` with the `cut` bytes from byte `at` replaced by `insert`, both ends moved out to
/// character boundaries: an arbitrary edit of a configuration file, for fuzzing its reader.
pub(crate) fn spliced(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let mut start = at.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + cut).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{insert}{}", &text[..start], &text[end..])
}
