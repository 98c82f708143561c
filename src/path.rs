//! Turning a caller's identifier into exactly one URL path segment.

use std::fmt::Write;

use crate::error::Error;

/// Longest task id accepted, in bytes. Real ids are UUIDs (36 bytes); the cap keeps a
/// runaway string from becoming a multi-kilobyte request line.
pub(crate) const MAX_TASK_ID_LEN: usize = 1024;

/// Appends `id` to `url` as one percent-encoded path segment.
///
/// Everything but RFC 3986's unreserved characters is encoded, so `/`, `?`, `#`, `%`,
/// spaces and control characters cannot change which resource is asked for. The two
/// ids that no encoding can carry (`.` and `..`, which servers and proxies collapse)
/// are refused, as are empty ids, ids containing NUL and ids over the length limit.
pub fn push_segment(url: &mut String, what: &str, id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(Error::invalid(format!("the {what} is empty")));
    }
    if id.len() > MAX_TASK_ID_LEN {
        return Err(Error::invalid(format!(
            "the {what} is {} bytes long; the limit is {MAX_TASK_ID_LEN}",
            id.len()
        )));
    }
    if id.contains('\0') {
        return Err(Error::invalid(format!(
            "the {what} contains a NUL character"
        )));
    }
    if id == "." || id == ".." {
        return Err(Error::invalid(format!(
            "the {what} {id:?} cannot be sent as a path segment"
        )));
    }
    url.reserve(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            url.push(byte as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(url, "%{byte:02X}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn segment(id: &str) -> Result<String, Error> {
        let mut url = String::new();
        push_segment(&mut url, "task id", id).map(|()| url)
    }

    #[test]
    fn keeps_unreserved_and_encodes_the_rest() {
        assert_eq!(segment("0f9e-AB_c.d~").unwrap(), "0f9e-AB_c.d~");
        assert_eq!(segment("a/b?c#d%e f").unwrap(), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(segment("é\n").unwrap(), "%C3%A9%0A");
        assert_eq!(segment("...").unwrap(), "...");
    }

    #[test]
    fn refuses_what_cannot_be_one_segment() {
        let long = "x".repeat(MAX_TASK_ID_LEN + 1);
        for bad in ["", ".", "..", "a\0b", long.as_str()] {
            assert_eq!(
                segment(bad).unwrap_err().kind(),
                ErrorKind::InvalidParameter
            );
        }
        assert!(segment(&"x".repeat(MAX_TASK_ID_LEN)).is_ok());
    }
}
