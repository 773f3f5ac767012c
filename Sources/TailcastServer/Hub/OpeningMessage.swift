import Logging
import TailcastProtocol
import WSCore

/// Reads the first message of a session, which must be the control message `name` (`hello`, `watch`)
/// naming a valid job id, if it names one. Anything else is refused with a reason (4000) and gives nil.
func openingMessage<Message>(
    _ messages: inout WebSocketInboundMessageStream.AsyncIterator, outbound: WebSocketOutboundWriter, logger: Logger, named name: String,
    _ extract: (ControlMessage) -> Message?, job: (Message) -> String?
) async throws -> Message? {
    guard case .text(let text) = try await messages.next() else {
        logger.notice("refused a connection: the first message was not \"\(name)\" text")
        try await outbound.refuse(.badMessage, "the first message must be a \"\(name)\" text message")
        return nil
    }
    let message: Message
    do {
        guard let extracted = extract(try ControlMessage.decode(text)) else { throw ControlMessage.DecodeError.unknownType("not \(name)") }
        message = extracted
    } catch {
        logger.notice("refused a connection: expected \"\(name)\": \("\(error)".escapingControlCharacters)")
        try await outbound.refuse(.badMessage, "expected \"\(name)\": \(error)")
        return nil
    }
    if let id = job(message), let problem = JobID.problem(with: id) {
        logger.notice("refused a connection: \(problem.escapingControlCharacters)")
        try await outbound.refuse(.badMessage, problem)
        return nil
    }
    return message
}
