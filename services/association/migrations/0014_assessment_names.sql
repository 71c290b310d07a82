-- Each assessment keeps the name its monitor was enrolled under when it assessed (a later
-- enrolment under another name never relabels it), and monitors' assessments are counted by
-- monitor without a scan.
ALTER TABLE independent_assessment ADD COLUMN monitor_name text NOT NULL DEFAULT '';
UPDATE independent_assessment a SET monitor_name = coalesce(
    (SELECT m.name FROM monitor m WHERE m.monitor = a.monitor
       AND m.enrolled_at <= a.recorded_at ORDER BY m.id DESC LIMIT 1), '');
CREATE INDEX independent_assessment_by_monitor ON independent_assessment (monitor, recorded_at);
