/// The database schema, as the migrations that build it; `PRAGMA user_version` counts those applied.
enum SQLiteStoreSchema {
    /// Marks the file as this broker's (`PRAGMA application_id`): "STRL".
    static let applicationID: Int = 0x5354_524C

    /// Migration n (1-based) takes the schema from version n - 1 to n. Only ever append.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE sessions (
                client TEXT PRIMARY KEY NOT NULL,
                expiry_interval INTEGER NOT NULL,
                expires_at INTEGER
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE subscriptions (
                client TEXT NOT NULL,
                filter TEXT NOT NULL,
                options INTEGER NOT NULL,
                identifier INTEGER,
                PRIMARY KEY (client, filter)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE deliveries (
                client TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                message BLOB NOT NULL,
                publisher TEXT,
                expires_at INTEGER,
                qos INTEGER NOT NULL,
                retain INTEGER NOT NULL,
                subscription_identifiers TEXT,
                share TEXT,
                released INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (client, sequence)
            )
            """,
            """
            CREATE TABLE received_qos2 (
                client TEXT NOT NULL,
                packet_identifier INTEGER NOT NULL,
                PRIMARY KEY (client, packet_identifier)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE retained (
                topic TEXT PRIMARY KEY NOT NULL,
                message BLOB NOT NULL,
                publisher TEXT,
                expires_at INTEGER
            )
            """,
        ],
        [
            // The will of a stored session: the message as a 5.0 PUBLISH (see StoredMessageCodec), the Will Delay
            // Interval apart (it is no PUBLISH property), and the wall-clock time it is due once the connection is gone.
            """
            CREATE TABLE wills (
                client TEXT PRIMARY KEY NOT NULL,
                message BLOB NOT NULL,
                delay INTEGER,
                publish_at INTEGER
            ) WITHOUT ROWID
            """,
        ],
    ]

    static var version: Int { migrations.count }
}
