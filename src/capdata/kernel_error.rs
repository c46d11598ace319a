//! Kernel-made rejections (spec §2.4) and reading error messages (§8.3).

use super::CapData;
use super::decode::decode;
use super::encode::encode;
use super::value::Passable;

/// Builds the kernel's rejection value: an `Error` whose message is
/// `[KERNEL:<code>] <detail>`, without `errorId` (kernel tagging is off).
///
/// Vat-fatal codes are passed whole, e.g. `code = "VAT_FATAL:ILLEGAL_SYSCALL"`.
pub fn kernel_error(code: &str, detail: &str) -> CapData {
    encode(&Passable::Error {
        name: "Error".into(),
        message: format!("[KERNEL:{code}] {detail}"),
        error_id: None,
    })
}

/// The message of an encoded error, used as the RPC error message when a
/// promise is rejected; `None` if the body is not a decodable error.
pub fn error_message(data: &CapData) -> Option<String> {
    match decode(data) {
        Ok(Passable::Error { message, .. }) => Some(message),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_error_bytes() {
        let data = kernel_error("OBJECT_REVOKED", "Target object has been revoked");
        assert_eq!(
            data.body,
            r##"#{"#error":"[KERNEL:OBJECT_REVOKED] Target object has been revoked","name":"Error"}"##
        );
        assert!(data.slots.is_empty());
        let fatal = kernel_error("VAT_FATAL:ILLEGAL_SYSCALL", "Syscall from inactive vat");
        assert_eq!(
            error_message(&fatal).as_deref(),
            Some("[KERNEL:VAT_FATAL:ILLEGAL_SYSCALL] Syscall from inactive vat")
        );
    }

    #[test]
    fn reads_vat_error_messages() {
        let data = CapData {
            body: r##"#{"#error":"boom","errorId":"error:liveSlots:v1#70001","name":"Error"}"##
                .into(),
            slots: vec![],
        };
        assert_eq!(error_message(&data).as_deref(), Some("boom"));
        let not_error = CapData {
            body: r#"#"boom""#.into(),
            slots: vec![],
        };
        assert_eq!(error_message(&not_error), None);
    }
}
