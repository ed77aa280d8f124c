import Foundation

extension ChatRequestStore {
    struct Valid {
        let agentId: String
        let name: String
        let email: String?
        let phone: String?
        let message: String
        let property: Listing?
        let method: ContactMethod
    }

    /// Every bad field at once: name; email or phone; valid email; phone to E.164; the
    /// preferred method reachable; message ≤ 5,000; the listing as in listing shares.
    /// Throws the validation problem a submission would get, without storing anything.
    public static func validate(_ submission: ChatRequestSubmission, settings: TenantSettings) throws {
        _ = try validated(submission, settings: settings)
    }

    static func validated(_ s: ChatRequestSubmission, settings: TenantSettings) throws -> Valid {
        var v = Validator()
        let agent = s.agentId ?? settings.defaultAgentId
        if agent == nil { v.add("agentId", "required", "agentId is required (this brokerage has no default agent)") }
        if let agent { v.requireText(agent, "agentId", maxLength: 200) }
        if let agent, RemoteMember.isRemote(agent) {
            v.add("agentId", "invalid_value", "agentId is not an agent of this brokerage")
        }
        // It becomes the visitor's display name (and their token's `name`): one line.
        let name = v.requireLine(s.name.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }, "name", maxLength: 200)
        let email = s.email.flatMap { $0.isEmpty ? nil : $0 }
        let phone = s.phone.flatMap { $0.isEmpty ? nil : $0 }
        var normalizedEmail: String?
        var normalizedPhone: String?
        if email == nil && phone == nil {
            v.add("email", "required", "give an email or a phone number")
            v.add("phone", "required", "give an email or a phone number")
        }
        if let email {
            normalizedEmail = ContactPoint.email(email)
            if normalizedEmail == nil { v.add("email", "invalid_format", "email is not a valid email address") }
        }
        if let phone {
            normalizedPhone = ContactPoint.phone(phone)
            if normalizedPhone == nil { v.add("phone", "invalid_format", "phone is not a valid phone number") }
        }
        let message = s.message ?? ""
        v.checkText(message, "message", maxLength: 5000)
        s.property?.validate(into: &v, prefix: "property")
        var method = ContactMethod.chat
        if let text = s.preferredContactMethod {
            if let parsed = ContactMethod(rawValue: text) {
                method = parsed
                if parsed == .email && email == nil {
                    v.add("preferredContactMethod", "unreachable", "email is preferred but no email was given")
                }
                if (parsed == .phone || parsed == .text) && phone == nil {
                    v.add("preferredContactMethod", "unreachable", "\(parsed.rawValue) is preferred but no phone was given")
                }
            } else {
                v.add("preferredContactMethod", "invalid_value", "one of email, phone, text, chat")
            }
        }
        try v.check()
        guard let agent, let name else { throw DomainError.validation(v.errors) }
        return Valid(agentId: agent, name: name, email: normalizedEmail, phone: normalizedPhone, message: message,
                     property: s.property, method: method)
    }
}
