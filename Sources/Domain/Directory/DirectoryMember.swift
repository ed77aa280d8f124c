import Foundation

/// An agent's directory record, with the RESO Data Dictionary's Member field names (issue 16;
/// docs/decisions/0027-agent-directory.md). A brokerage's directory integration writes it; it is
/// searchable by agents of every brokerage only while `listed`.
///
/// `MemberEmail` and `MemberMobilePhone` reach the directory only when the agent opted in
/// (`showEmail`, `showMobilePhone`); the integration always reads them back.
public struct DirectoryRecord: Codable, Sendable, Hashable {
    public var MemberFirstName: String?
    public var MemberLastName: String?
    public var MemberFullName: String?
    public var MemberEmail: String?
    public var MemberMobilePhone: String?
    public var MemberStateLicense: String?
    public var MemberStateLicenseState: String?
    public var MemberLanguages: [String]?
    public var MemberDesignation: [String]?
    public var MemberCity: String?
    public var MemberStateOrProvince: String?
    public var OfficeKey: String?
    public var OfficeName: String?
    public var JobTitle: String?
    public var MemberBio: String?
    public var photoUrl: String?
    public var areasServed: [String]?
    public var specialties: [String]?
    /// When the brokerage last changed the record (RFC 3339). A write older than the stored
    /// one is ignored. Absent: the moment Parley receives it.
    public var ModificationTimestamp: Timestamp?
    /// Opt-in: unlisted agents are invisible in the directory and cannot be requested.
    public var listed: Bool?
    public var showEmail: Bool?
    public var showMobilePhone: Bool?

    public init() {}

    static let maxText = 200
    static let maxBio = 4000
    static let maxListItems = 20
    static let maxListItem = 100

    /// The record as stored: trimmed, validated, the full name filled from first and last, the
    /// lists without blanks or repeats, flags present. Every bad field is reported, prefixed
    /// with `prefix` (`records[3].`) for bulk calls.
    func validated(prefix: String = "") throws -> DirectoryRecord {
        var validator = Validator()
        var record = self
        func text(_ value: String?, _ field: String, max: Int = DirectoryRecord.maxText) -> String? {
            guard let value else { return nil }
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { return nil }
            return validator.requireText(trimmed, prefix + field, maxLength: max)
        }
        func list(_ values: [String]?, _ field: String) -> [String]? {
            guard let values else { return nil }
            var kept: [String] = []
            for value in values {
                let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty, !kept.contains(where: { $0.caseInsensitiveCompare(trimmed) == .orderedSame }) else { continue }
                guard validator.requireText(trimmed, prefix + field, maxLength: Self.maxListItem) != nil else { return nil }
                kept.append(trimmed)
            }
            if kept.count > Self.maxListItems {
                validator.add(prefix + field, "too_many", "\(field) has at most \(Self.maxListItems) items")
                return nil
            }
            return kept.isEmpty ? nil : kept
        }
        record.MemberFirstName = text(MemberFirstName, "MemberFirstName")
        record.MemberLastName = text(MemberLastName, "MemberLastName")
        record.MemberFullName = text(MemberFullName, "MemberFullName")
        if record.MemberFullName == nil {
            let joined = [record.MemberFirstName, record.MemberLastName].compactMap { $0 }.joined(separator: " ")
            if joined.isEmpty {
                validator.add(prefix + "MemberFullName", "required", "MemberFullName, or MemberFirstName and MemberLastName, is required")
            } else if joined.codePoints > Self.maxText {
                validator.add(prefix + "MemberFullName", "too_long", "MemberFullName must be at most \(Self.maxText) characters")
            } else {
                record.MemberFullName = joined
            }
        }
        record.MemberEmail = text(MemberEmail, "MemberEmail", max: 254)
        if let email = record.MemberEmail {
            if let normalized = ContactPoint.email(email) {
                record.MemberEmail = normalized
            } else {
                validator.add(prefix + "MemberEmail", "invalid_format", "MemberEmail is not an email address")
            }
        }
        record.MemberMobilePhone = text(MemberMobilePhone, "MemberMobilePhone", max: 32)
        if let phone = record.MemberMobilePhone, ContactPoint.phone(phone) == nil {
            validator.add(prefix + "MemberMobilePhone", "invalid_format", "MemberMobilePhone is not a phone number")
        }
        record.MemberStateLicense = text(MemberStateLicense, "MemberStateLicense")
        record.MemberStateLicenseState = text(MemberStateLicenseState, "MemberStateLicenseState")
        record.MemberLanguages = list(MemberLanguages, "MemberLanguages")
        record.MemberDesignation = list(MemberDesignation, "MemberDesignation")
        record.MemberCity = text(MemberCity, "MemberCity")
        record.MemberStateOrProvince = text(MemberStateOrProvince, "MemberStateOrProvince")
        record.OfficeKey = text(OfficeKey, "OfficeKey")
        record.OfficeName = text(OfficeName, "OfficeName")
        record.JobTitle = text(JobTitle, "JobTitle")
        record.MemberBio = text(MemberBio, "MemberBio", max: Self.maxBio)
        record.photoUrl = text(photoUrl, "photoUrl", max: 2000)
        if let url = record.photoUrl {
            let parsed = URLComponents(string: url)
            if parsed?.scheme?.lowercased() != "https" || (parsed?.host ?? "").isEmpty {
                validator.add(prefix + "photoUrl", "invalid_format", "photoUrl must be an https URL")
            }
        }
        record.areasServed = list(areasServed, "areasServed")
        record.specialties = list(specialties, "specialties")
        record.listed = listed ?? false
        record.showEmail = showEmail ?? false
        record.showMobilePhone = showMobilePhone ?? false
        if let stamp = ModificationTimestamp {
            // Milliseconds, as the record is written back: a record read back compares equal.
            record.ModificationTimestamp = Timestamp(milliseconds: stamp.date)
        }
        try validator.check()
        return record
    }

    /// The fields the directory shows to agents of any brokerage: contact points only with
    /// the agent's opt-in; the opt-in flags themselves stay with the brokerage.
    var publicView: DirectoryRecord {
        var view = self
        if showEmail != true { view.MemberEmail = nil }
        if showMobilePhone != true { view.MemberMobilePhone = nil }
        view.showEmail = nil
        view.showMobilePhone = nil
        return view
    }
}

/// A directory entry as the API returns it: the record, whose it is, and when Parley stored it.
public struct DirectoryMember: Codable, Sendable, Hashable {
    public struct Brokerage: Codable, Sendable, Hashable {
        public let slug: String
        public let name: String
    }

    public let MemberKey: String
    public let brokerage: Brokerage
    public let record: DirectoryRecord
    public let updatedAt: Date

    enum CodingKeys: String, CodingKey { case MemberKey, brokerage, updatedAt }

    public init(MemberKey: String, brokerage: Brokerage, record: DirectoryRecord, updatedAt: Date) {
        self.MemberKey = MemberKey
        self.brokerage = brokerage
        self.record = record
        self.updatedAt = updatedAt
    }

    /// The record's fields at the top level, beside `MemberKey`, `brokerage` and `updatedAt`.
    public func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(MemberKey, forKey: .MemberKey)
        try container.encode(brokerage, forKey: .brokerage)
        try container.encode(updatedAt, forKey: .updatedAt)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.MemberKey = try container.decode(String.self, forKey: .MemberKey)
        self.brokerage = try container.decode(Brokerage.self, forKey: .brokerage)
        self.updatedAt = try container.decode(Date.self, forKey: .updatedAt)
        self.record = try DirectoryRecord(from: decoder)
    }
}

/// What a bulk sync did with one record.
public struct DirectorySyncResult: Codable, Sendable, Hashable {
    public enum Outcome: String, Codable, Sendable {
        case created, updated, unchanged, rejected
    }

    public let MemberKey: String?
    public let outcome: Outcome
    /// For `unchanged`: `same` (the stored record already says this) or `stale` (older than the
    /// stored ModificationTimestamp). For `rejected`: the problem code.
    public let reason: String?
    /// For `rejected`: every bad field.
    public let errors: [FieldError]?

    public init(MemberKey: String?, outcome: Outcome, reason: String?, errors: [FieldError]?) {
        self.MemberKey = MemberKey
        self.outcome = outcome
        self.reason = reason
        self.errors = errors
    }
}

/// An RFC 3339 date-time as integrations send it: `Z` or an offset, with or without fractional
/// seconds; written back as Parley writes dates (UTC, milliseconds).
public struct Timestamp: Codable, Sendable, Hashable {
    public let date: Date

    public init(_ date: Date) {
        self.date = date
    }

    /// `date` to the millisecond, as it is written back.
    init(milliseconds date: Date) {
        self.date = Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }

    public static func parse(_ text: String) -> Timestamp? {
        if let date = ParleyJSON.parse(text) { return Timestamp(date) }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return Timestamp(date) }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text).map { Timestamp($0) }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let parsed = Self.parse(try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected an RFC 3339 date-time")
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(ParleyJSON.format(date))
    }
}

/// What an agent may change in their own directory record (JSON merge patch: absent fields
/// stay, `null` clears). Names, license, office and contact points are the brokerage's.
public struct DirectoryProfilePatch: Sendable {
    public var MemberBio: PatchField<String> = .unchanged
    public var photoUrl: PatchField<String> = .unchanged
    public var MemberLanguages: PatchField<[String]> = .unchanged
    public var areasServed: PatchField<[String]> = .unchanged
    public var specialties: PatchField<[String]> = .unchanged
    public var listed: PatchField<Bool> = .unchanged
    public var showEmail: PatchField<Bool> = .unchanged
    public var showMobilePhone: PatchField<Bool> = .unchanged

    public init() {}

    /// The record's names of the fields this patch sets.
    var fields: [String] {
        func named<T>(_ field: PatchField<T>, _ name: String) -> String? {
            if case .set = field { return name }
            return nil
        }
        return [
            named(MemberBio, "MemberBio"), named(photoUrl, "photoUrl"), named(MemberLanguages, "MemberLanguages"),
            named(areasServed, "areasServed"), named(specialties, "specialties"), named(listed, "listed"),
            named(showEmail, "showEmail"), named(showMobilePhone, "showMobilePhone"),
        ].compactMap { $0 }
    }

    func applied(to record: DirectoryRecord) -> DirectoryRecord {
        var record = record
        func apply<T>(_ field: PatchField<T>, _ path: WritableKeyPath<DirectoryRecord, T?>) {
            if case .set(let value) = field { record[keyPath: path] = value }
        }
        apply(MemberBio, \.MemberBio)
        apply(photoUrl, \.photoUrl)
        apply(MemberLanguages, \.MemberLanguages)
        apply(areasServed, \.areasServed)
        apply(specialties, \.specialties)
        apply(listed, \.listed)
        apply(showEmail, \.showEmail)
        apply(showMobilePhone, \.showMobilePhone)
        return record
    }
}
