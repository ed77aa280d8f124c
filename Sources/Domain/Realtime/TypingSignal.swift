/// The NOTIFY payload of a typing indicator (never stored anywhere).
struct TypingSignal: Codable, Sendable {
    /// tenant slug, session id, user id, name, until (epoch seconds), recipients
    let t: String
    let s: String
    let u: String
    let n: String
    let until: Double
    let r: [String]
}
