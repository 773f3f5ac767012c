import Testing

@testable import TailcastServer

@Suite struct MigrationsTests {
    @Test func versionsStartAtOneAndFollowEachOther() {
        #expect(Migrations.all.map(\.version) == Array(1...Migrations.all.count))
        #expect(Migrations.current == Migrations.all.count)
    }

    @Test func aDatabaseGetsOnlyTheStepsItLacks() {
        #expect(Migrations.pending(after: 0).map(\.version) == Migrations.all.map(\.version))
        #expect(Migrations.pending(after: Migrations.current).isEmpty)
    }

    @Test func versionOneMakesTheTablesTheNodesShare() {
        let sql = Migrations.all[0].statements.joined(separator: "\n")
        for table in ["CREATE TABLE jobs", "CREATE TABLE chunks", "CREATE TABLE leases", "PRIMARY KEY (job, stream, start_offset)"] {
            #expect(sql.contains(table))
        }
    }
}
