import Foundation

/// A person an agent works with. JSON field names follow RESO Contacts where one exists.
public struct Contact: Codable, Sendable, Hashable {
    public let ContactKey: String
    public var FirstName: String?
    public var LastName: String?
    public var FullName: String
    public var Email: String?
    public var MobilePhone: String?
    public var PreferredPhone: String?
    public var LeadSource: String?
    public var Notes: String?
    /// The agent (brokerage user id) whose contact this is.
    public let OwnerMemberKey: String
    public var preferredContactMethod: ContactMethod?
    /// The person's Parley user id when they can sign in (a client).
    public var userId: String?
    public var sessions: [SessionRef]?
    public let createdAt: Date
    public var updatedAt: Date

    public struct SessionRef: Codable, Sendable, Hashable {
        public let id: String
        public let kind: String
        public let status: String
        public let lastActivityAt: Date
    }
}

public enum ContactMethod: String, Codable, Sendable, CaseIterable {
    case email, phone, text, chat
}

/// What is known about a person when a contact may have to be made for them.
public struct ContactDraft: Sendable {
    public var fullName: String
    public var firstName: String?
    public var lastName: String?
    public var email: String?
    public var mobilePhone: String?
    public var preferredPhone: String?
    public var leadSource: String?
    public var notes: String?
    public var preferredContactMethod: ContactMethod?
    public var userId: String?

    public init(
        fullName: String, firstName: String? = nil, lastName: String? = nil, email: String? = nil,
        mobilePhone: String? = nil, preferredPhone: String? = nil, leadSource: String? = nil, notes: String? = nil,
        preferredContactMethod: ContactMethod? = nil, userId: String? = nil
    ) {
        self.fullName = fullName
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.mobilePhone = mobilePhone
        self.preferredPhone = preferredPhone
        self.leadSource = leadSource
        self.notes = notes
        self.preferredContactMethod = preferredContactMethod
        self.userId = userId
    }
}

/// One field of a PATCH: left alone, or set (nil clears an optional field).
public enum PatchField<Value: Sendable>: Sendable {
    case unchanged
    case set(Value?)
}

public struct ContactPatch: Sendable {
    public var firstName: PatchField<String> = .unchanged
    public var lastName: PatchField<String> = .unchanged
    public var fullName: PatchField<String> = .unchanged
    public var email: PatchField<String> = .unchanged
    public var mobilePhone: PatchField<String> = .unchanged
    public var preferredPhone: PatchField<String> = .unchanged
    public var leadSource: PatchField<String> = .unchanged
    public var notes: PatchField<String> = .unchanged
    public var preferredContactMethod: PatchField<ContactMethod> = .unchanged

    public init() {}
}
