/* net_timer_defer: the callback runs once, later in the same loop pass (before timers that are
 * due only after the next poll), however often it was deferred; cancel undoes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "net/loop.h"

typedef struct {
    net_loop *loop;
    net_timer *a, *b, *c, *stop;
    int nb, nc;
    char order[8];
    size_t norder;
} fix;

static void on_b(void *arg) {
    fix *f = arg;
    f->nb++;
    f->order[f->norder++] = 'b';
}

static void on_c(void *arg) {
    fix *f = arg;
    f->nc++;
    f->order[f->norder++] = 'c';
}

static void on_a(void *arg) {
    fix *f = arg;
    f->order[f->norder++] = 'a';
    net_timer_arm(f->c, 0); /* due after the next poll */
    net_timer_defer(f->b);  /* later in this pass */
    net_timer_defer(f->b);  /* again: still once */
}

static void on_stop(void *arg) {
    net_loop_stop(((fix *)arg)->loop);
}

static void setup_fix(fix *f) {
    memset(f, 0, sizeof(*f));
    f->loop = net_loop_new();
    assert_non_null(f->loop);
    f->a = net_timer_new(f->loop, on_a, f);
    f->b = net_timer_new(f->loop, on_b, f);
    f->c = net_timer_new(f->loop, on_c, f);
    f->stop = net_timer_new(f->loop, on_stop, f);
}

static void teardown_fix(fix *f) {
    net_timer_free(f->a);
    net_timer_free(f->b);
    net_timer_free(f->c);
    net_timer_free(f->stop);
    net_loop_free(f->loop);
}

static void test_defer_once_in_this_pass(void **state) {
    (void)state;
    fix f;
    setup_fix(&f);
    net_timer_arm(f.a, 0);
    net_timer_arm(f.stop, 50);
    assert_int_equal(net_loop_run(f.loop), ERR_OK);
    assert_int_equal(f.nb, 1);
    assert_int_equal(f.nc, 1);
    assert_memory_equal(f.order, "abc", 3);
    teardown_fix(&f);
}

static void test_cancel_undoes_defer(void **state) {
    (void)state;
    fix f;
    setup_fix(&f);
    net_timer_defer(f.b);
    net_timer_cancel(f.b);
    net_timer_arm(f.b, 1000); /* re-armed far away, then deferred: the defer wins */
    net_timer_defer(f.b);
    net_timer_arm(f.stop, 50);
    assert_int_equal(net_loop_run(f.loop), ERR_OK);
    assert_int_equal(f.nb, 1);
    teardown_fix(&f);
    setup_fix(&f);
    net_timer_defer(f.b);
    net_timer_cancel(f.b);
    net_timer_arm(f.stop, 30);
    assert_int_equal(net_loop_run(f.loop), ERR_OK);
    assert_int_equal(f.nb, 0);
    teardown_fix(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defer_once_in_this_pass),
        cmocka_unit_test(test_cancel_undoes_defer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
