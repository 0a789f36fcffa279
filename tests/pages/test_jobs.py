"""The one training runner (ui.jobs) under AppTest: a job keeps the last record its work reported, however
the work ends; `finish` sees it; the next run finds the job, and Stop marks it."""
from streamlit.testing.v1 import AppTest


def _app():
    import streamlit as st

    from rnnviz import ui

    if "seen" not in st.session_state:
        job = ui.jobs.start("demo", {"steps": 3})
        kept = []

        def work(report):
            for k in range(3):
                report({"step": k}, (k + 1) / 3, f"step {k + 1} of 3", final=k == 2)
            raise KeyboardInterrupt  # as a click ends a running script: the record stays

        try:
            ui.jobs.run(job, work, bar=st.empty(), finish=kept.append)
        except KeyboardInterrupt:
            pass
        st.session_state["seen"] = (job.record, job.fraction, job.text, job.done.is_set(), kept)
    else:
        ui.jobs.request_stop("demo")
        job = ui.jobs.latest("demo")
        st.session_state["again"] = (job.settings, job.record, job.stop_requested, job.running)


def test_a_job_keeps_its_last_record_and_the_next_run_finds_it():
    at = AppTest.from_function(_app, default_timeout=60).run()
    assert not at.exception
    assert at.session_state["seen"] == ({"step": 2}, 1.0, "step 3 of 3", True, [{"step": 2}])
    at.run()
    assert at.session_state["again"] == ({"steps": 3}, {"step": 2}, True, False)
