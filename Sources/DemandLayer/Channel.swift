import Foundation

/// An unbounded FIFO handing messages from one stage thread to the next.
/// Any thread may send; one thread receives. `receive` blocks until a message
/// arrives. Bounding is the buffer ring's job, not the channel's.
final class Channel<Message>: @unchecked Sendable {
    private let condition = NSCondition()
    private var messages: [Message] = []
    private var head = 0

    func send(_ message: Message) {
        condition.lock()
        messages.append(message)
        condition.signal()
        condition.unlock()
    }

    func receive() -> Message {
        condition.lock()
        defer { condition.unlock() }
        while head == messages.count { condition.wait() }
        let message = messages[head]
        head += 1
        if head == messages.count {
            messages.removeAll(keepingCapacity: true)
            head = 0
        }
        return message
    }
}
