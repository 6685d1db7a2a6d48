package dev.wsgrpc.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LoopLaneTest {

  private final EventLoop loop = new DefaultEventLoop();

  @AfterEach
  void shutDown() {
    loop.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void aTaskPostedOnTheLoopRunsAtOnce() throws Exception {
    List<String> order = new ArrayList<>();
    onLoop(() -> {
      LoopLane lane = LoopLane.onCurrentLoop(loop);
      lane.execute(() -> order.add("task"));
      order.add("after execute");
    });
    assertEquals(List.of("task", "after execute"), order);
  }

  @Test
  void aTaskPostedByARunningTaskRunsWhenItEnds() throws Exception {
    List<String> order = new ArrayList<>();
    onLoop(() -> {
      LoopLane lane = LoopLane.onCurrentLoop(loop);
      lane.execute(() -> {
        order.add("outer starts");
        lane.execute(() -> {
          order.add("inner");
          lane.execute(() -> order.add("innermost"));
        });
        order.add("outer ends");
      });
      order.add("after execute");
    });
    assertEquals(List.of("outer starts", "outer ends", "inner", "innermost", "after execute"), order);
  }

  @Test
  void aTaskThatThrowsDoesNotHoldUpTheTasksAfterIt() throws Exception {
    List<String> order = new ArrayList<>();
    onLoop(() -> {
      LoopLane lane = LoopLane.onCurrentLoop(loop);
      lane.execute(() -> {
        lane.execute(() -> order.add("queued behind the failing task"));
        throw new IllegalStateException("a bug in a task");
      });
      lane.execute(() -> order.add("posted after"));
    });
    assertEquals(List.of("queued behind the failing task", "posted after"), order);
  }

  @Test
  void aTaskFromAnotherThreadRunsOnTheLoopAndIsNotOvertakenByTheLoopsLaterOnes() throws Exception {
    List<String> order = new ArrayList<>(); // touched on the loop only
    AtomicReference<LoopLane> laneRef = new AtomicReference<>();
    CountDownLatch blocked = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    onLoop(() -> laneRef.set(LoopLane.onCurrentLoop(loop)));
    LoopLane lane = laneRef.get();
    // Hold the loop so that the task from this thread cannot run yet.
    loop.execute(() -> {
      blocked.countDown();
      await(release);
    });
    assertTrue(blocked.await(10, TimeUnit.SECONDS));
    // Queued on the loop first: a task that posts to the lane once the loop runs it, after the task below was
    // posted from this thread, and ahead of the loop's turn to run that one.
    loop.execute(() -> lane.execute(() -> order.add("from the loop")));
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    lane.execute(() -> {
      ranOn.set(Thread.currentThread());
      order.add("from another thread");
    });
    release.countDown();
    onLoop(() -> { });
    assertEquals(List.of("from another thread", "from the loop"), order);
    Thread[] loopThread = new Thread[1];
    onLoop(() -> loopThread[0] = Thread.currentThread());
    assertSame(loopThread[0], ranOn.get());
  }

  private void onLoop(Runnable task) throws Exception {
    loop.submit(task).get(10, TimeUnit.SECONDS);
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
