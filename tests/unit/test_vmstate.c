/* test_vmstate.c - the microVM transition table (session/vmstate.c) */
#include "session/vmstate.h"
#include "test.h"

TEST(names_round_trip)
{
	for (int s = 0; s < VS_COUNT; s++)
		CHECK_EQ(vmstate_parse(vmstate_name((enum vm_state)s)), s);
	CHECK_EQ(vmstate_parse("running"), VS_INVALID);
	CHECK_EQ(vmstate_parse(""), VS_INVALID);
	CHECK_EQ(vmstate_parse(NULL), VS_INVALID);
	CHECK_STR(vmstate_name(VS_SUSPENDING), "SUSPENDING");
}

TEST(api_operations)
{
	const struct vm_transition *t = vmstate_next(VS_RUNNING, EV_SUSPEND);
	CHECK(t && t->to == VS_SUSPENDING && t->action == ACT_START_SUSPEND);
	/* Suspend and resume are idempotent in their target states. */
	t = vmstate_next(VS_SUSPENDED, EV_SUSPEND);
	CHECK(t && t->to == VS_SUSPENDED && t->action == ACT_NONE);
	t = vmstate_next(VS_RUNNING, EV_RESUME);
	CHECK(t && t->to == VS_RUNNING && t->action == ACT_NONE);
	/* A resume keeps SUSPENDED until the VM runs. */
	t = vmstate_next(VS_SUSPENDED, EV_RESUME);
	CHECK(t && t->to == VS_SUSPENDED && t->action == ACT_START_RESUME);
	CHECK(vmstate_next(VS_PENDING, EV_SUSPEND) == NULL);
	CHECK(vmstate_next(VS_SUSPENDING, EV_RESUME) == NULL);
	CHECK(vmstate_next(VS_TERMINATED, EV_RESUME) == NULL);
	CHECK(vmstate_next(VS_TERMINATED, EV_SUSPEND) == NULL);
	t = vmstate_next(VS_TERMINATED, EV_TERMINATE);
	CHECK(t && t->to == VS_TERMINATED && t->action == ACT_NONE);
}

TEST(failed_suspend_never_loses_a_running_vm)
{
	const struct vm_transition *t = vmstate_next(VS_SUSPENDING, EV_SUSPEND_FAILED);
	CHECK(t && t->to == VS_RUNNING);
	t = vmstate_next(VS_SUSPENDING, EV_SUSPEND_LOST);
	CHECK(t && t->to == VS_SUSPENDED);
	t = vmstate_next(VS_SUSPENDING, EV_SUSPEND_DIED);
	CHECK(t && t->to == VS_TERMINATED && t->action == ACT_ENDED);
}

TEST(terminate_waits_for_the_job_in_flight)
{
	static const enum vm_event results[] = { EV_RUN_OK, EV_SUSPEND_OK, EV_SUSPEND_FAILED,
						 EV_SUSPEND_LOST, EV_RESUME_OK, EV_RESUME_FAILED };
	for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
		const struct vm_transition *t = vmstate_next(VS_TERMINATING, results[i]);
		CHECK(t && t->to == VS_TERMINATING && t->action == ACT_START_TERMINATE);
	}
	const struct vm_transition *t = vmstate_next(VS_TERMINATING, EV_TERMINATE_DONE);
	CHECK(t && t->to == VS_TERMINATED && t->action == ACT_ENDED);
}

/* Nothing but a terminate ends in TERMINATED without ACT_ENDED, and no state
 * is a dead end: every live state can reach TERMINATED. */
TEST(table_is_consistent)
{
	for (int s = 0; s < VS_COUNT; s++)
		for (int e = 0; e < EV_COUNT; e++) {
			const struct vm_transition *t =
				vmstate_next((enum vm_state)s, (enum vm_event)e);
			if (!t)
				continue;
			CHECK(t->to >= 0 && t->to < VS_COUNT);
			CHECK(t->action >= 0 && t->action < ACT_COUNT);
			if (t->to == VS_TERMINATED && s != VS_TERMINATED)
				CHECK_EQ(t->action, ACT_ENDED);
		}
	for (int s = 0; s < VS_COUNT; s++) {
		if (s == VS_TERMINATED)
			continue;
		const struct vm_transition *t = vmstate_next((enum vm_state)s, EV_TERMINATE);
		CHECK(t && t->to == VS_TERMINATING);
		t = vmstate_next((enum vm_state)s, EV_LOST);
		CHECK(t && t->to == VS_TERMINATED);
	}
	CHECK(vmstate_is_transitional(VS_SUSPENDING));
	CHECK(!vmstate_is_transitional(VS_SUSPENDED));
}

TEST_MAIN(T(names_round_trip), T(api_operations), T(failed_suspend_never_loses_a_running_vm),
	  T(terminate_waits_for_the_job_in_flight), T(table_is_consistent))
