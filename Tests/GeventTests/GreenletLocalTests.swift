import Gevent
import Testing

final class Tracked {
    let name: String
    init(_ name: String) { self.name = name }
}

/// gevent's test__local.py: one value per greenlet, created on first use, freed with the greenlet.
@Suite("GreenletLocal", .serialized, .timeLimit(.minutes(1)))
struct GreenletLocalTests {
    @Test func eachGreenletSeesItsOwnValue() throws {
        try withHub {
            let local = GreenletLocal<String> { "initial" }
            local.value = "main"
            var seen: [String] = []
            let greenlets = ["a", "b"].map { name in
                spawn {
                    seen.append(local.value)
                    local.value = name
                    try sleep(.zero)
                    seen.append(local.value)
                }
            }
            try joinAll(greenlets)
            #expect(seen == ["initial", "initial", "a", "b"])
            #expect(local.value == "main")
        }
    }

    @Test func theInitialValueIsMadeOncePerGreenlet() throws {
        try withHub {
            var made = 0
            let local = GreenletLocal<Int> {
                made += 1
                return made
            }
            let first = spawn { local.value + local.value }
            let second = spawn { local.value }
            let firstValue = try first.get()
            let secondValue = try second.get()
            #expect(firstValue == 2)
            #expect(secondValue == 2)
            #expect(made == 2)
        }
    }

    @Test func aGreenletsValueIsFreedWhenItFinishes() throws {
        try withHub {
            let local = GreenletLocal<Tracked?> { nil }
            weak var observed: Tracked?
            let greenlet = spawn {
                let value = Tracked("greenlet's")
                observed = value
                local.value = value
                try sleep(.zero)
            }
            try sleep(.zero)
            #expect(observed != nil)
            try greenlet.join()
            #expect(observed == nil)
            #expect(!local.hasValue)
        }
    }

    @Test func valuesAreFreedWhenTheLocalGoesAway() throws {
        try withHub {
            weak var observed: Tracked?
            var local: GreenletLocal<Tracked>? = GreenletLocal { Tracked("fresh") }
            observed = local?.value
            #expect(observed != nil)
            local = nil
            #expect(observed == nil)
        }
    }

    @Test func resetDropsTheValueAndTheNextAccessMakesANewOne() throws {
        try withHub {
            var made = 0
            let local = GreenletLocal<Int> {
                made += 1
                return made
            }
            #expect(local.value == 1)
            #expect(local.hasValue)
            local.reset()
            #expect(!local.hasValue)
            #expect(local.value == 2)
        }
    }
}
