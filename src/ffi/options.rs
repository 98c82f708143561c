//! Reading an options struct that may come from an older or newer camb.h.
//!
//! Each options struct starts with `size_t struct_size`, which its `_init()`
//! function sets to the size the program passes: `sizeof` the struct in the
//! header the program was built with (the header's `_default()` does that). A
//! smaller size is an older program: the fields it knows are read, the others
//! keep their defaults. A larger size is a newer program than this library,
//! which cannot know what the extra fields ask for: refused.
//!
//! So that this works, a field added in a later version goes at an offset at or
//! past the old struct's size (after its tail padding), never into it.

use std::mem::size_of;

use crate::error::Error;

/// Where one field lies in an options struct, for [`read_sized`].
pub(crate) struct Field {
    pub(crate) offset: usize,
    pub(crate) size: usize,
}

/// A field of `$type`, for [`read_sized`]'s list.
macro_rules! field {
    ($type:ty, $field:ident) => {{
        // A local function infers the field's type from a pointer to it.
        fn size_of_pointee<T>(_: *const T) -> usize {
            std::mem::size_of::<T>()
        }
        let probe = std::mem::MaybeUninit::<$type>::uninit();
        $crate::ffi::options::Field {
            offset: std::mem::offset_of!($type, $field),
            // SAFETY: only the address of the field is taken, never read.
            size: size_of_pointee(unsafe { std::ptr::addr_of!((*probe.as_ptr()).$field) }),
        }
    }};
}
pub(crate) use field;

/// The options at `ptr` as this library reads them: `defaults` when `ptr` is
/// NULL; else each field in `fields` that lies wholly within the caller's
/// `struct_size` bytes from the caller, and every other field from `defaults`.
///
/// # Safety
/// `ptr` is NULL or points to at least `struct_size` readable bytes, where
/// `struct_size` is the `size_t` at its start; `T` is a `repr(C)` struct whose
/// first field is that `size_t` and whose every bit pattern is valid (integers,
/// floats, raw pointers: no `bool` or enum).
pub(crate) unsafe fn read_sized<T: Copy>(
    ptr: *const T,
    defaults: T,
    fields: &[Field],
    name: &str,
) -> Result<T, Error> {
    if ptr.is_null() {
        return Ok(defaults);
    }
    // SAFETY: non-NULL, and the struct starts with a size_t (this function's contract).
    let struct_size = unsafe { ptr.cast::<usize>().read_unaligned() };
    let known = size_of::<T>();
    if struct_size > known {
        return Err(Error::invalid(format!(
            "{name}.struct_size is {struct_size}, larger than the {known} bytes this \
             libcamb knows: the program was built with a newer camb.h than this library"
        )));
    }
    if struct_size < size_of::<usize>() {
        return Err(Error::invalid(format!(
            "{name}.struct_size is {struct_size}: start from {name}_default() (or \
             {name}_init()), which sets it"
        )));
    }
    let mut value = defaults;
    let into = std::ptr::from_mut(&mut value).cast::<u8>();
    let from = ptr.cast::<u8>();
    for field in fields {
        if field.offset + field.size <= struct_size {
            // SAFETY: the field lies within the caller's struct_size readable
            // bytes and within `value`; any bit pattern is a valid value of it.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    from.add(field.offset),
                    into.add(field.offset),
                    field.size,
                );
            }
        }
    }
    Ok(value)
}

/// Fills the caller's options struct of `struct_size` bytes with `defaults`: its
/// `struct_size` field, and each field in `fields` that lies wholly within it
/// (an older program's struct has fewer; the bytes of a field cut by its end are
/// not the caller's struct and are left alone).
///
/// # Safety
/// `ptr` is NULL or valid for writing `struct_size` bytes; `T` is as for
/// [`read_sized`].
pub(crate) unsafe fn init_sized<T: Copy>(
    ptr: *mut T,
    struct_size: usize,
    defaults: T,
    fields: &[Field],
    name: &str,
) -> Result<(), Error> {
    if ptr.is_null() {
        return Err(crate::ffi::boundary::null_parameter("options"));
    }
    let known = size_of::<T>();
    if struct_size > known {
        return Err(Error::invalid(format!(
            "a {name} of {struct_size} bytes is larger than the {known} bytes this libcamb \
             knows: the program was built with a newer camb.h than this library"
        )));
    }
    if struct_size < size_of::<usize>() {
        return Err(Error::invalid(format!(
            "a {name} of {struct_size} bytes cannot hold its struct_size: pass sizeof the struct"
        )));
    }
    let into = ptr.cast::<u8>();
    let from = std::ptr::from_ref(&defaults).cast::<u8>();
    // SAFETY: the caller's struct holds at least a size_t (checked above), at its start.
    unsafe { ptr.cast::<usize>().write_unaligned(struct_size) };
    for field in fields {
        if field.offset + field.size <= struct_size {
            // SAFETY: the field lies within the caller's struct_size writable bytes
            // and within `defaults`.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    from.add(field.offset),
                    into.add(field.offset),
                    field.size,
                );
            }
        }
    }
    Ok(())
}
