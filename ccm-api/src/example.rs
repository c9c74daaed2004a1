//! Representative values of the wire types. The OpenAPI document shows them next
//! to each request and response, and a test checks each one against its own
//! schema, so an example cannot drift from the type it illustrates.

/// A type with a representative value.
pub trait Example {
    /// A representative value: realistic field values, every optional part that
    /// callers commonly meet filled in.
    fn example() -> Self;
}

impl<T: Example> Example for Vec<T> {
    fn example() -> Self {
        vec![T::example()]
    }
}
