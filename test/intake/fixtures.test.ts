import { describe, expect, it } from 'vitest';
import { intakeText, NormalisedEvent } from '../../src/intake/index.js';
import { fixtureText } from '../support/events.js';

/** The three examples of Canvas's documentation, normalised as SPEC §1.3 says, field by field. */
describe('Canvas documentation examples', () => {
  it('grade_change: global ids kept, course from a Course context, student SIS id from the body', () => {
    expect(intakeText(fixtureText('grade_change'))).toEqual({
      outcome: 'valid',
      kind: 'grade_change',
      record: {
        kind: 'grade_change',
        instant: Date.parse('2019-11-01T19:11:05.222Z'),
        event_time: Date.parse('2019-11-01T19:11:05.222Z'),
        root_account_id: '21070000000000001',
        course_id: '21070000000000565',
        course_sis_id: '2017.100.101.101-1',
        student_id: '21070000000000048',
        assignment_id: '21070000000000355',
        submission_id: '21070000000011086',
        // metadata.user_sis_id "456-T45" is the teacher's and must never become the student's
        student_sis_id: 'ABC.123',
        score: 5,
        grade: '5',
        points_possible: 1,
        grading_complete: true,
        muted: false,
        grader_id: '21070000000000987',
        assignment_name: null,
      },
    });
  });

  it('course_grade_change: local ids joined to the context shard, instant from body.updated_at', () => {
    expect(intakeText(fixtureText('course_grade_change'))).toEqual({
      outcome: 'valid',
      kind: 'course_grade_change',
      record: {
        kind: 'course_grade_change',
        instant: Date.parse('2019-12-11T16:26:34Z'),
        event_time: Date.parse('2019-12-11T16:26:34.552Z'),
        root_account_id: '10000000000001',
        course_id: '21070000000000002',
        course_sis_id: '194387',
        student_id: '21070000000000002',
        current_score: 17.31,
        final_score: 12.5,
        unposted_current_score: 17.31,
        unposted_final_score: 12.5,
        workflow_state: 'active',
      },
    });
  });

  it('grade_override sent with event_name "grade_change" is classified by its body', () => {
    expect(intakeText(fixtureText('grade_override'))).toEqual({
      outcome: 'valid',
      kind: 'grade_override',
      record: {
        kind: 'grade_override',
        instant: Date.parse('2019-11-15T07:46:18.697Z'),
        event_time: Date.parse('2019-11-15T07:46:18.697Z'),
        root_account_id: '21070000000000001',
        course_id: '21070000000000046',
        // the context is course ...123, not this record's course ...046: its SIS id must not be used
        course_sis_id: null,
        student_id: '21070000000000045',
        grading_period_id: '21070000000000047',
        override_score: 90,
      },
    });
  });

  it('every valid record satisfies the zod schema its type comes from', () => {
    for (const name of ['grade_change', 'course_grade_change', 'grade_override'] as const) {
      const verdict = intakeText(fixtureText(name));
      if (verdict.outcome !== 'valid') throw new Error(`${name} not valid`);
      expect(NormalisedEvent.parse(verdict.record)).toEqual(verdict.record);
    }
  });
});
