import Foundation

/// A listing shared in a message or named in a chat request, referenced RESO-style:
/// identifiers (`ListingKey`, `ListingId`, `OriginatingSystemName`) plus a display snapshot
/// taken when it was shared (the MLS record may change later; the message should not).
public struct Listing: Codable, Sendable, Hashable {
    public var ListingKey: String?
    public var ListingId: String?
    public var OriginatingSystemName: String?
    public var address: String?
    public var listPrice: Double?
    public var photoUrl: String?
    public var url: String?

    public init(
        ListingKey: String? = nil, ListingId: String? = nil, OriginatingSystemName: String? = nil,
        address: String? = nil, listPrice: Double? = nil, photoUrl: String? = nil, url: String? = nil
    ) {
        self.ListingKey = ListingKey
        self.ListingId = ListingId
        self.OriginatingSystemName = OriginatingSystemName
        self.address = address
        self.listPrice = listPrice
        self.photoUrl = photoUrl
        self.url = url
    }

    /// Checks every field, adding errors under `prefix` (e.g. `listing.url`).
    public func validate(into validator: inout Validator, prefix: String) {
        if ListingKey == nil && ListingId == nil {
            validator.add("\(prefix).ListingKey", "required", "a listing needs ListingKey or ListingId")
        }
        Self.checkText(ListingKey, "\(prefix).ListingKey", max: 128, into: &validator)
        Self.checkText(ListingId, "\(prefix).ListingId", max: 64, into: &validator)
        Self.checkText(OriginatingSystemName, "\(prefix).OriginatingSystemName", max: 128, into: &validator)
        Self.checkText(address, "\(prefix).address", max: 500, into: &validator)
        if let listPrice, !(listPrice.isFinite && listPrice >= 0 && listPrice <= 100_000_000_000) {
            validator.add("\(prefix).listPrice", "out_of_range", "listPrice must be a number from 0 to 100,000,000,000")
        }
        for (value, field) in [(photoUrl, "photoUrl"), (url, "url")] {
            guard let value else { continue }
            if !Self.isHTTPS(value) {
                validator.add("\(prefix).\(field)", "invalid_format", "\(field) must be an https URL of at most 2048 characters")
            }
        }
    }

    static func checkText(_ value: String?, _ field: String, max: Int, into validator: inout Validator) {
        guard let value else { return }
        if value.allSatisfy(\.isWhitespace) {
            validator.add(field, "required", "\(field) must not be blank")
        } else if value.codePoints > max {
            validator.add(field, "too_long", "\(field) must be at most \(max) characters")
        } else if value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) {
            validator.add(field, "invalid_characters", "\(field) must not contain control characters")
        }
    }

    static func isHTTPS(_ text: String) -> Bool {
        guard text.codePoints <= 2048, text.lowercased().hasPrefix("https://"),
            !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || $0 == "\"" || $0 == "<" || $0 == ">" }),
            let components = URLComponents(string: text), let host = components.host, !host.isEmpty
        else { return false }
        return true
    }
}
