// SPDX-License-Identifier: GPL-3.0-or-later
// PriorityScheduler: smooth weighted round robin with weights 8:4:2:1. allocate(15) gives
// exactly the weights; 15 claims of one slot give the same totals (the state carries over);
// the picks interleave (no priority holds more consecutive slots than its weight allows,
// and low gets a slot in every window of 15); and, for a set of slot counts, the totals
// after any number of slots stay within one slot of the exact share.
#include "PriorityScheduler.h"

#include <QTest>
#include <array>
#include <vector>

using namespace bulwark;

using Counts = std::array<int, kJobPriorities>;

namespace {

int sum(const Counts &c)
{
    int total = 0;
    for (int n : c)
        total += n;
    return total;
}

QByteArray show(const Counts &c)
{
    return QByteArray::number(c[0]) + ',' + QByteArray::number(c[1]) + ',' +
           QByteArray::number(c[2]) + ',' + QByteArray::number(c[3]);
}

// The priority each of `slots` one-slot calls picks.
std::vector<int> picks(PriorityScheduler &s, int slots)
{
    std::vector<int> out;
    for (int i = 0; i < slots; ++i) {
        const Counts c = s.allocate(1);
        int picked = -1;
        for (int p = 0; p < kJobPriorities; ++p) {
            if (c[p] == 1) {
                if (picked != -1)
                    return {}; // two priorities for one slot: reported by the caller
                picked = p;
            } else if (c[p] != 0) {
                return {};
            }
        }
        out.push_back(picked);
    }
    return out;
}

} // namespace

class TestPriorityScheduler : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fifteenSlotsGiveTheWeights()
    {
        PriorityScheduler s;
        const Counts c = s.allocate(15);
        QCOMPARE(show(c), QByteArray("8,4,2,1"));
        // The pattern repeats: the state is back where it started after a full cycle.
        QCOMPARE(show(s.allocate(15)), QByteArray("8,4,2,1"));
        QCOMPARE(show(s.allocate(30)), QByteArray("16,8,4,2"));
    }

    void zeroSlots()
    {
        PriorityScheduler s;
        QCOMPARE(show(s.allocate(0)), QByteArray("0,0,0,0"));
        QCOMPARE(show(s.allocate(-3)), QByteArray("0,0,0,0"));
        QCOMPARE(show(s.allocate(15)), QByteArray("8,4,2,1"));
    }

    void oneSlotAtATime()
    {
        PriorityScheduler s;
        const std::vector<int> order = picks(s, 15);
        QCOMPARE(int(order.size()), 15);
        Counts totals{};
        for (int p : order)
            ++totals[p];
        QCOMPARE(show(totals), QByteArray("8,4,2,1"));
        // The first slot goes to the highest priority.
        QCOMPARE(order.front(), 0);
    }

    void interleaves()
    {
        PriorityScheduler s;
        const std::vector<int> order = picks(s, 15 * 20);
        QCOMPARE(int(order.size()), 15 * 20);
        // No run of one priority longer than its share allows: critical (8 of 15) never
        // holds more than 2 slots in a row, the others never 2.
        const int maxRun[kJobPriorities] = {2, 1, 1, 1};
        int run = 0;
        for (size_t i = 0; i < order.size(); ++i) {
            run = (i > 0 && order[i] == order[i - 1]) ? run + 1 : 1;
            QVERIFY2(run <= maxRun[order[i]],
                     qPrintable(QStringLiteral("priority %1 got %2 slots in a row at slot %3")
                                    .arg(order[i])
                                    .arg(run)
                                    .arg(i)));
        }
        // Every window of 15 consecutive slots (not only aligned ones) holds exactly the
        // weights, so low waits at most 15 slots.
        for (size_t start = 0; start + 15 <= order.size(); ++start) {
            Counts window{};
            for (size_t i = start; i < start + 15; ++i)
                ++window[order[i]];
            QVERIFY2(
                window[3] >= 1,
                qPrintable(QStringLiteral("no low slot in [%1, %2)").arg(start).arg(start + 15)));
            QCOMPARE(show(window), QByteArray("8,4,2,1"));
        }
    }

    void slotCounts_data()
    {
        QTest::addColumn<int>("slots");
        QTest::addColumn<int>("calls");
        for (int slots : {1, 2, 3, 4, 5, 7, 8, 10, 15, 16, 30, 64, 100})
            QTest::addRow("%d slots", slots) << slots << 60;
    }

    // Over many calls of `slots`, the totals after each call are within one slot of the
    // exact weighted share, and each call hands out exactly `slots`.
    void slotCounts()
    {
        QFETCH(int, slots);
        QFETCH(int, calls);
        PriorityScheduler s;
        Counts totals{};
        for (int call = 1; call <= calls; ++call) {
            const Counts c = s.allocate(slots);
            QCOMPARE(sum(c), slots);
            for (int p = 0; p < kJobPriorities; ++p) {
                QVERIFY(c[p] >= 0);
                totals[p] += c[p];
            }
            const qint64 handed = qint64(call) * slots;
            for (int p = 0; p < kJobPriorities; ++p) {
                const double exact = double(handed) * PriorityScheduler::kWeights[p] / 15.0;
                QVERIFY2(std::abs(totals[p] - exact) < 1.0 + 1e-9,
                         qPrintable(QStringLiteral("after %1 slots priority %2 has %3, share %4")
                                        .arg(handed)
                                        .arg(p)
                                        .arg(totals[p])
                                        .arg(exact)));
            }
            // Whole cycles give the weights exactly.
            if (handed % 15 == 0) {
                const qint64 cycles = handed / 15;
                for (int p = 0; p < kJobPriorities; ++p)
                    QCOMPARE(qint64(totals[p]), cycles * PriorityScheduler::kWeights[p]);
            }
        }
        // A call of n slots equals n calls of one slot from the same state.
        PriorityScheduler a;
        PriorityScheduler b;
        for (int round = 0; round < 5; ++round) {
            const Counts together = a.allocate(slots);
            Counts apart{};
            for (int p : picks(b, slots))
                ++apart[p];
            QCOMPARE(show(together), show(apart));
        }
    }
};

QTEST_APPLESS_MAIN(TestPriorityScheduler)
#include "tst_priorityscheduler.moc"
