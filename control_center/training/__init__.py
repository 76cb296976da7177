"""Officer training: courses, quizzes, assignments, reports, forum, xAPI export."""
