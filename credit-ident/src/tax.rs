//! Tax registration numbers (税务登记号). No public check algorithm exists for them, so this module only
//! recognises their shapes, to store and index them; it never claims one is valid.

/// Whether a normalised value has one of the shapes tax registration numbers take:
/// 15 characters (6-digit division + 9-character organisation code) or 20 characters (a resident ID number
/// + 2 digits). Eighteen-character tax numbers are unified codes or resident IDs and validate as those.
pub fn has_tax_number_shape(value: &str) -> bool {
    let bytes = value.as_bytes();
    let alnum = |b: &[u8]| b.iter().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    match bytes.len() {
        15 => bytes[..6].iter().all(u8::is_ascii_digit) && alnum(&bytes[6..]),
        20 => bytes[..17].iter().all(u8::is_ascii_digit) && alnum(&bytes[17..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::has_tax_number_shape;

    #[test]
    fn shapes() {
        assert!(has_tax_number_shape("110105600037341"));
        assert!(has_tax_number_shape("11010560003734X"));
        assert!(has_tax_number_shape("11010519491231002X01"));
        assert!(!has_tax_number_shape("11010A600037341"));
        assert!(!has_tax_number_shape("1101056000373"));
    }
}
