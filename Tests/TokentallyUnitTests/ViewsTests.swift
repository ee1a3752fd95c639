import Foundation
import Testing

@testable import TokentallyViews

/// The views' own parts: exact money, query strings, the days of a bucket, CSV fields, the
/// snapshot JSON reader and the metrics' text format.
@Suite struct ViewsTests {
    @Test func moneyIsReadAndWrittenExactly() {
        for (text, nanos) in [
            ("0.021006", Int64(21_006_000)), ("12", 12_000_000_000), ("-0.000000005", -5), ("0", 0),
            ("12.345678901", 12_345_678_901),
        ] {
            #expect(Money.nanos(text) == nanos, "\(text)")
            #expect(Money.text(nanos) == text, "\(nanos)")
        }
        for bad in ["1e-5", "0.0000000001", "abc", "", "-", "1.2.3"] { #expect(Money.nanos(bad) == nil, "\(bad)") }
    }

    @Test func queryStringsDecodeAsFormsSendThem() throws {
        let items = try #require(Query.decode("key=a%2Bb&model=x+y&model=z&empty="))
        #expect(items.map(\.name) == ["key", "model", "model", "empty"])
        #expect(items.map(\.value) == ["a+b", "x y", "z", ""])
        #expect(Query.decode("model=%zz") == nil)
        #expect(Query.decode("model=%ff") == nil, "not UTF-8")
        let selection = try Selection.parse(query: items.filter { $0.name != "empty" })
        #expect(selection.keys == ["a+b"] && selection.models == ["x y", "z"])
        #expect(throws: SelectionError.self) { try Selection.parse(query: [("period", "year")]) }
        #expect(throws: SelectionError.self) { try Selection.parse(query: [("colour", "blue")]) }
    }

    @Test func aBucketsDaysAreItsCalendarDays() {
        #expect(Report.dayLabels(period: "month", bucket: "2024-02").count == 29)
        #expect(Report.dayLabels(period: "month", bucket: "2026-11").last == "2026-11-30")
        // ISO weeks: 2026-W01 starts on Monday 2025-12-29; 2020-W53 ends on Sunday 2021-01-03.
        #expect(Report.dayLabels(period: "week", bucket: "2026-W01").first == "2025-12-29")
        #expect(Report.dayLabels(period: "week", bucket: "2020-W53").last == "2021-01-03")
        #expect(Report.dayLabels(period: "week", bucket: "2026-W48") == (23...29).map { "2026-11-\($0)" })
        #expect(Report.dayLabels(period: "day", bucket: "2026-11-28") == ["2026-11-28"])
    }

    @Test func csvFieldsAreQuotedOnlyWhenTheyMustBe() {
        #expect(ReportCSV.field("openai/gpt-5") == "openai/gpt-5")
        #expect(ReportCSV.field("a,b") == "\"a,b\"")
        #expect(ReportCSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(ReportCSV.field("two\nlines") == "\"two\nlines\"")
    }

    @Test func theReaderKeepsNumbersAsWrittenAndRefusesBrokenJSON() throws {
        var reader = JSONReader(
            Array(#"{"a": [1, 0.021006, -2e3, null], "b": "\u00e9\ud83d\ude00\n", "c": true}"#.utf8))
        let value = try reader.readDocument()
        #expect(value["a"]?.elements.map { $0.number ?? "null" } == ["1", "0.021006", "-2e3", "null"])
        #expect(value["b"]?.string == "é😀\n")
        #expect(value["c"] == .bool(true))
        for broken in [#"{"a": }"#, #"{"a": 1,}"#, "[1 2]", #"{"a": "x"} x"#, #""\x""#, "01a"] {
            var reader = JSONReader(Array(broken.utf8))
            #expect(throws: SnapshotJSONError.self, "\(broken)") { try reader.readDocument() }
        }
    }

    @Test func metricLabelValuesAreEscaped() {
        var exposition = Metrics.Exposition()
        exposition.sample("x_total", [("model", "a\"b\\c\nd")], "1")
        #expect(exposition.text == "x_total{model=\"a\\\"b\\\\c\\nd\"} 1\n")
        #expect(Timestamps.epoch("2026-11-28T14:30:10Z") == 1_795_876_210)
        #expect(Timestamps.epoch("2026-11-28 14:30:10") == nil)
    }

    @Test func readableNumbers() {
        #expect(Format.count(950) == "950" && Format.count(12_345) == "12.3k" && Format.count(1_234_567) == "1.23M")
        #expect(Format.dollars(4_560_000_000) == "$4.56" && Format.dollars(1_200_000) == "$0.0012")
        #expect(Format.dollars(-4_560_000_000) == "-$4.56" && Format.dollars(1_234_567_000_000) == "$1,234.57")
        #expect(Format.grouped(1_234_567) == "1,234,567" && Format.percent(0.985) == "98.5%")
    }
}
