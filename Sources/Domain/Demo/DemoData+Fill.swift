import Database
import Foundation
import Logging

extension DemoData {
    /// One message of a conversation's script.
    struct Line: Sendable {
        let from: Caller
        /// Its `clientMessageId`: sent once, whatever the number of runs.
        let key: String
        let text: String
        var listing: Listing?
        var files: [File] = []
    }

    struct File: Sendable {
        let name: String
        let bytes: [UInt8]
    }

    /// A conversation: its messages in order, how far the other members have read (the key of
    /// the last message each read), and the status it ends in.
    struct Script: Sendable {
        let lines: [Line]
        var reads: [(reader: Caller, through: String)] = []
        var finish: SessionStore.Transition?
    }

    /// The run itself, with the stores it writes through.
    struct Filler {
        let demo: Tenant
        let harbor: Tenant
        let sessions: SessionStore
        let requests: ChatRequestStore
        let directory: DirectoryStore
        let attachments: AttachmentStore
        let contacts: ContactStore
        let users: UserDirectory

        init(database: Database, logger: Logger, demo: Tenant, harbor: Tenant) {
            self.demo = demo
            self.harbor = harbor
            sessions = SessionStore(database: database)
            // No notifier: a server running beside this process reads the new events on its
            // one-second safety read.
            requests = ChatRequestStore(database: database, notifier: nil, logger: logger)
            directory = DirectoryStore(database: database)
            attachments = AttachmentStore(database: database, blobs: PostgresBlobStore(database: database), logger: logger)
            contacts = ContactStore(database: database)
            users = UserDirectory(database: database)
        }

        func caller(_ person: Person, _ tenant: Tenant) -> Caller {
            Caller(tenant: tenant, userID: person.id, role: person.role, name: person.name)
        }

        var avery: Caller { caller(DemoData.avery, demo) }
        var blake: Caller { caller(DemoData.blake, demo) }
        var maria: Caller { caller(DemoData.maria, demo) }
        var sam: Caller { caller(DemoData.sam, demo) }
        var priya: Caller { caller(DemoData.priya, demo) }
        var jordan: Caller { caller(DemoData.jordan, demo) }
        var hana: Caller { caller(DemoData.hana, harbor) }
        var kai: Caller { caller(DemoData.kai, harbor) }

        func run(into summary: inout Summary) async throws {
            // Every user as their first signed-in request records them: chat requests go only
            // to agents Parley knows.
            for (tenant, people) in [(demo, [avery, blake, maria, sam, priya, jordan]), (harbor, [hana, kai])] {
                for person in people { await users.record(person) }
                summary.usersRecorded[tenant.slug.rawValue] = people.map(\.userID)
            }
            summary.directory = try await listAgents()
            summary.contactsCreated = try await addContacts()
            // Filled in this order, so the inbox lists Maria's conversation first.
            summary.conversations = [
                try await clientConversation(DemoData.sam, email: "sam.lee@example.com", phone: nil, samScript),
                try await clientConversation(DemoData.priya, email: "priya.patel@example.com", phone: "(650) 555-0172", priyaScript),
                try await agentConversation(),
                try await crossBrokerageConversation(),
                try await clientConversation(DemoData.jordan, email: nil, phone: "(415) 555-0188", jordanScript),
                try await clientConversation(DemoData.maria, email: "maria@example.com", phone: "(415) 555-0134", mariaScript),
            ]
            summary.requests = try await chatRequests()
        }

        // MARK: - Directory and contacts

        /// The four agents' directory records, as their brokerages' integrations would sync
        /// them. A fixed ModificationTimestamp: a second run is `unchanged`, and an agent's own
        /// later edit of their profile is kept (the demo's record is then `stale`).
        func listAgents() async throws -> [DirectorySyncResult] {
            let stamp = Timestamp(Date(timeIntervalSince1970: 1_767_603_600)) // 2026-01-05T09:00:00Z
            func record(
                _ first: String, _ last: String, city: String, languages: [String], bio: String, title: String, office: String,
                areas: [String], specialties: [String], designations: [String] = [], email: String? = nil
            ) -> DirectoryRecord {
                var record = DirectoryRecord()
                record.MemberFirstName = first
                record.MemberLastName = last
                record.MemberFullName = "\(first) \(last)"
                record.MemberCity = city
                record.MemberStateOrProvince = "CA"
                record.MemberLanguages = languages
                record.MemberBio = bio
                record.JobTitle = title
                record.OfficeName = office
                record.areasServed = areas
                record.specialties = specialties
                record.MemberDesignation = designations.isEmpty ? nil : designations
                record.MemberEmail = email
                record.showEmail = email != nil
                record.ModificationTimestamp = stamp
                record.listed = true
                return record
            }
            let demoSync = Integration(tenant: demo, name: "parley-demo")
            let harborSync = Integration(tenant: harbor, name: "parley-demo")
            let records: [(Integration, String, DirectoryRecord)] = [
                (demoSync, DemoData.avery.id, record(
                    "Avery", "Agent", city: "San Francisco", languages: ["English", "Spanish"],
                    bio: "Waterfront and downtown homes in San Francisco. First-time buyers welcome: I walk you through every step.",
                    title: "Realtor", office: "Demo Brokerage — Embarcadero", areas: ["San Francisco", "Marin County"],
                    specialties: ["Waterfront", "First-time buyers", "Condos"], designations: ["ABR"], email: "avery.agent@example.com")),
                (demoSync, DemoData.blake.id, record(
                    "Blake", "Morgan", city: "Berkeley", languages: ["English", "French"],
                    bio: "East Bay family homes and investment properties; fifteen years in Berkeley and Albany.",
                    title: "Broker Associate", office: "Demo Brokerage — Berkeley", areas: ["Berkeley", "Albany", "El Cerrito"],
                    specialties: ["Investment properties", "Relocation"], designations: ["CRS"])),
                (harborSync, DemoData.hana.id, record(
                    "Hana", "Ito", city: "Oakland", languages: ["English", "Japanese"],
                    bio: "Oakland hills and lake-side homes. I co-op with agents across the Bay and love a fast, friendly close.",
                    title: "Realtor", office: "Harbor Homes — Lake Merritt", areas: ["Oakland", "Piedmont", "Alameda"],
                    specialties: ["Co-op deals", "Luxury homes"], email: "hana.ito@example.com")),
                (harborSync, DemoData.kai.id, record(
                    "Kai", "Nakamura", city: "San Francisco", languages: ["English"],
                    bio: "Relocation specialist: buyers moving to San Francisco from the Pacific Northwest and beyond.",
                    title: "Realtor", office: "Harbor Homes — SoMa", areas: ["San Francisco", "Daly City"],
                    specialties: ["Relocation", "New construction"])),
            ]
            var results: [DirectorySyncResult] = []
            for (integration, key, record) in records {
                results.append(try await directory.upsert(integration, key: key, record).result)
            }
            return results
        }

        /// A lead in Avery's contacts without a conversation yet.
        func addContacts() async throws -> Int {
            let lead = ContactDraft(
                fullName: "Olivia Brown", firstName: "Olivia", lastName: "Brown", email: "olivia.brown@example.com",
                mobilePhone: "(415) 555-0161", leadSource: "Open house",
                notes: "Met at the 12 Harbor Way open house. Pre-approved; wants 2 bd in Noe Valley by summer.",
                preferredContactMethod: .email)
            return try await contacts.create(avery, lead).created ? 1 : 0
        }

        // MARK: - Conversations

        var mariaScript: Script {
            Script(
                lines: [
                    Line(from: avery, key: "demo-maria-01", text: "Hi Maria, great to meet you at Saturday's open house! I've started a shortlist for you."),
                    Line(from: maria, key: "demo-maria-02", text: "Thanks Avery! We'd love 3 bedrooms near the water, ideally under $1.3M."),
                    Line(from: avery, key: "demo-maria-03",
                         text: "This one just came on the market: **12 Harbor Way**, 3 bd / 2 ba with a bay view.",
                         listing: DemoData.sharedListing),
                    Line(from: maria, key: "demo-maria-04", text: "Oh wow, that view! Is there parking? We have two cars."),
                    Line(from: avery, key: "demo-maria-05", text: """
                        Yes! What stands out:
                        - **2-car garage** with an EV charger
                        - _Renovated_ kitchen (2023)
                        - Walk Score 92, ten minutes to the ferry
                        The disclosures are [on the listing page](https://listings.example/ML81234/disclosures), \
                        and the neighborhood guide at https://listings.example/guides/harbor-district
                        """),
                    Line(from: avery, key: "demo-maria-06", text: "A photo from the back deck:",
                         files: [File(name: "12-harbor-way.png", bytes: DemoFiles.housePNG)]),
                    Line(from: avery, key: "demo-maria-07", text: "And my notes from the walkthrough.",
                         files: [File(name: "notes.txt", bytes: DemoFiles.notesText)]),
                    Line(from: maria, key: "demo-maria-08", text: "This is perfect. Could we see it this weekend? Saturday morning works best."),
                    Line(from: maria, key: "demo-maria-09", text: "Also, would the sellers consider a rent-back for a month?"),
                    Line(from: maria, key: "demo-maria-10", text: "I'll send you our pre-approval letter tonight 🙂"),
                ],
                // Maria has read Avery's messages (✓✓); her last three are unread for Avery.
                reads: [(maria, "demo-maria-07")])
        }

        var samScript: Script {
            Script(
                lines: [
                    Line(from: avery, key: "demo-sam-01", text: "Congratulations on closing, Sam! 🎉 The keys are at the front desk."),
                    Line(from: sam, key: "demo-sam-02", text: "Thank you so much for everything, Avery!"),
                    Line(from: avery, key: "demo-sam-03", text: "It was a pleasure. Enjoy the new place, and send me a photo of the garden!"),
                ],
                reads: [(sam, "demo-sam-03")], finish: .close)
        }

        var priyaScript: Script {
            Script(
                lines: [
                    Line(from: avery, key: "demo-priya-01", text: "Hi Priya, following up on the condo search: are you still looking?"),
                    Line(from: priya, key: "demo-priya-02", text: "We've decided to wait until spring. I'll reach out then!"),
                    Line(from: avery, key: "demo-priya-03", text: "Sounds good. I'll keep an eye out for two-bedrooms in Mission Bay."),
                ],
                reads: [(priya, "demo-priya-03")], finish: .archive)
        }

        var jordanScript: Script {
            Script(
                lines: [
                    Line(from: avery, key: "demo-jordan-01", text: "Hi Jordan, the inspection report for 88 Pine St is in: nothing major."),
                    Line(from: jordan, key: "demo-jordan-02", text: "Great news! Can we talk about the roof estimate tomorrow?"),
                ],
                reads: [(jordan, "demo-jordan-01")])
        }

        /// A session with a client of the brokerage, started by Avery (or found).
        func clientConversation(_ client: Person, email: String?, phone: String?, _ script: Script) async throws -> Summary.Conversation {
            try await conversation(owner: avery, kind: .client, with: client.id, name: client.name, otherBrokerage: nil, script) {
                try await sessions.create(avery, with: .newClient(userID: client.id, name: client.name, email: email, phone: phone)).0
            }
        }

        /// Avery and Blake, agents of the same brokerage.
        func agentConversation() async throws -> Summary.Conversation {
            let script = Script(
                lines: [
                    Line(from: blake, key: "demo-blake-01", text: "Could you cover my 2pm showing at 450 Bay St on Thursday?"),
                    Line(from: avery, key: "demo-blake-02", text: "Sure, I'll take it. Lockbox code in the usual place?"),
                    Line(from: blake, key: "demo-blake-03", text: "Yes, thanks! I owe you a coffee ☕"),
                ],
                reads: [(blake, "demo-blake-02")])
            return try await conversation(owner: avery, kind: .agent, with: DemoData.blake.id, name: DemoData.blake.name, otherBrokerage: nil, script) {
                try await sessions.create(avery, with: .agent(userID: DemoData.blake.id, name: DemoData.blake.name)).0
            }
        }

        /// Avery and Hana of Harbor Homes, as the product opens it: Avery's Request Chat from
        /// the directory, accepted by Hana. Each brokerage keeps its copy of the session.
        func crossBrokerageConversation() async throws -> Summary.Conversation {
            let hanaThere = RemoteMember.id(brokerage: harbor.slug.rawValue, key: DemoData.hana.id)
            let script = Script(
                lines: [
                    Line(from: hana, key: "demo-hana-01", text: "Hi Avery! Yes, happy to co-op. The sellers are motivated and would like to close before the holidays."),
                    Line(from: avery, key: "demo-hana-02", text: "Perfect. My buyers can do a 21-day close. Could you send over the disclosures?"),
                    Line(from: hana, key: "demo-hana-03", text: "Sending them this afternoon. **Offers are due Friday at 5pm.**"),
                ],
                reads: [(hana, "demo-hana-02")])
            return try await conversation(
                owner: avery, kind: .agent, with: hanaThere, name: DemoData.hana.name, otherBrokerage: harbor.slug.rawValue, script
            ) {
                let (sent, _) = try await requests.requestChat(avery, .init(
                    brokerage: harbor.slug.rawValue, memberKey: DemoData.hana.id,
                    message: "Hi Hana, my buyers love 12 Oak St. Would the sellers consider an offer with a quick close?",
                    property: Listing(ListingKey: "L-100", address: "12 Oak St, Oakland", listPrice: 985_000)))
                let (_, session) = try await requests.accept(hana, id: sent.id)
                return try await sessions.get(avery, id: session.id)
            }
        }

        /// Finds the owner's session with `userID` (any status), or starts it with `start`; sends
        /// the script's messages that are not in it yet, moves the read positions, and — when
        /// this run sent something — brings it to the script's final status.
        func conversation(
            owner: Caller, kind: Session.Kind, with userID: String, name: String, otherBrokerage: String?, _ script: Script,
            start: () async throws -> Session
        ) async throws -> Summary.Conversation {
            var session: Session
            var created = false
            if let existing = try await findSession(owner, kind: kind, with: userID) {
                session = existing
            } else {
                session = try await start()
                created = true
            }
            let (sent, files) = try await play(session.id, script)
            if let finish = script.finish, created || sent > 0 {
                do {
                    _ = try await sessions.transition(owner, id: session.id, finish)
                } catch DomainError.conflict {
                    // Someone moved it to a status this transition does not start from: leave it.
                }
            }
            session = try await sessions.get(owner, id: session.id)
            return Summary.Conversation(
                brokerage: owner.tenant.slug.rawValue, agent: owner.userID, with: name, otherBrokerage: otherBrokerage,
                sessionId: session.id, kind: session.kind, agentToAgent: session.agentToAgent, status: session.status,
                created: created, messagesSent: sent, attachmentsSent: files, messages: session.lastSeq, unread: session.unreadCount)
        }

        /// The owner's two-member session of `kind` with `userID`, preferring an active one.
        func findSession(_ owner: Caller, kind: Session.Kind, with userID: String) async throws -> Session? {
            for status in [Session.Status.active, .archived, .closed] {
                var after: String?
                repeat {
                    let page = try await sessions.list(owner, status: status, kind: kind, after: after, limit: 100)
                    if let found = page.items.first(where: { $0.members.count == 2 && $0.members.contains { $0.userId == userID } }) {
                        return found
                    }
                    after = page.next
                } while after != nil
            }
            return nil
        }

        /// Sends the lines whose key is not in the session yet (uploading their files first),
        /// then the read positions. Returns the messages and files sent.
        func play(_ session: String, _ script: Script) async throws -> (sent: Int, files: Int) {
            var seqs: [String: Int64] = [:]
            var senders: [String: Caller] = [:]
            for line in script.lines { senders[line.from.tenant.slug.rawValue + "/" + line.from.userID] = line.from }
            for sender in senders.values {
                // A sender sees the clientMessageId of their own messages.
                var cursor = SessionStore.HistoryCursor.after(0)
                while true {
                    let page = try await sessions.history(sender, sessionID: session, cursor, limit: 100)
                    for message in page.items where message.sender.userId == sender.userID {
                        if let key = message.clientMessageId { seqs[key] = message.seq }
                    }
                    guard let next = page.next else { break }
                    cursor = .after(next)
                }
            }
            var sent = 0
            var files = 0
            for line in script.lines where seqs[line.key] == nil {
                var ids: [String] = []
                for file in line.files {
                    ids.append(try await upload(file, by: line.from, to: session))
                    files += 1
                }
                let draft = SessionStore.Draft(clientMessageId: line.key, text: line.text, listing: line.listing, attachmentIds: ids)
                let (message, _) = try await sessions.send(line.from, sessionID: session, draft)
                seqs[line.key] = message.seq
                sent += 1
            }
            for (reader, key) in script.reads {
                // Receipts never move back: a member who has read further stays where they are.
                if let seq = seqs[key] { _ = try await sessions.markRead(reader, sessionID: session, upTo: seq) }
            }
            return (sent, files)
        }

        /// Uploads one file as the API's upload route does; returns its attachment id.
        func upload(_ file: File, by caller: Caller, to session: String) async throws -> String {
            var upload = try await attachments.begin(caller, sessionID: session, fileName: file.name)
            do {
                try await upload.append(file.bytes)
                return try await upload.finish().id
            } catch {
                await attachments.discard(caller, ids: [upload.id])
                throw error
            }
        }

        // MARK: - Chat requests

        /// Two website visitors and Kai of Harbor Homes ask Avery to chat. A request is made
        /// only when Avery has none from that person yet (in any status).
        func chatRequests() async throws -> [Summary.Request] {
            var existing: [ChatRequest] = []
            var after: String?
            repeat {
                let page = try await requests.list(avery, status: nil, after: after, limit: 100)
                existing += page.items
                after = page.next
            } while after != nil

            func report(_ request: ChatRequest, from: String, created: Bool) -> Summary.Request {
                Summary.Request(id: request.id, source: request.source, from: from, status: request.status, created: created)
            }
            var reports: [Summary.Request] = []
            let visitors = [
                ChatRequestSubmission(
                    agentId: DemoData.avery.id, name: "Elena García", email: "elena.garcia@example.com", phone: "(415) 555-0199",
                    message: "Hello! Is the loft at 450 Bay St still available? We'd love to see it this weekend.",
                    property: Listing(
                        ListingId: "ML80777", OriginatingSystemName: "BRMLS", address: "450 Bay St #5, San Francisco", listPrice: 849_000,
                        url: "https://listings.example/ML80777"),
                    preferredContactMethod: "email"),
                ChatRequestSubmission(
                    agentId: DemoData.avery.id, name: "Marcus Chen", email: nil, phone: "(510) 555-0147",
                    message: "Hi, I'm relocating from Chicago in March and need a 2-bedroom near BART. Can you help?",
                    property: nil, preferredContactMethod: "text"),
            ]
            for submission in visitors {
                let name = submission.name ?? ""
                if let found = existing.first(where: { $0.source == .website && $0.name == name }) {
                    reports.append(report(found, from: name, created: false))
                } else {
                    // As the public API submits it (no Origin: a website's own server).
                    let (request, _, created) = try await requests.submit(demo, submission, origin: nil)
                    reports.append(report(request, from: name, created: created))
                }
            }

            let kaiName = "\(DemoData.kai.name) (\(harbor.slug))"
            if let found = existing.first(where: {
                $0.source == .agent && $0.requester?.MemberKey == DemoData.kai.id && $0.requester?.brokerage.slug == harbor.slug.rawValue
            }) {
                reports.append(report(found, from: kaiName, created: false))
            } else {
                let (sent, created) = try await requests.requestChat(kai, .init(
                    brokerage: demo.slug.rawValue, memberKey: DemoData.avery.id,
                    message: "Hi Avery, I have buyers relocating from Seattle who love the waterfront. Open to a referral?",
                    property: nil))
                reports.append(report(try await requests.get(avery, id: sent.id), from: kaiName, created: created))
            }
            return reports
        }
    }
}
