import REPL
import Testing

@Suite("Time expressions")
struct TimeExpressionTests {
    @Test func relativeTimesThatOverflowAreRefusedNotACrash() {
        #expect(TimeExpression.parse("+9223372036854775807s", now: 1_700_000_000) == nil)
        #expect(TimeExpression.parse("-9223372036854775807s", now: 1_700_000_000) == nil)
        #expect(TimeExpression.parse("+15250284452w", now: 1_700_000_000) == nil)
        #expect(TimeExpression.parse("-1h", now: 1_700_000_000) == 1_699_996_400)
        #expect(TimeExpression.parse("+2d", now: 1_700_000_000) == 1_700_172_800)
    }
}
