"""The instructor side of the course.

``python -m autograder --help`` lists the nbgrader commands (modules ``course``,
``release``, ``validation``, ``grading``): regenerate and check the student release,
validate the solutions and the release, autograde a folder or zip of submissions. Each
takes the course directory as a parameter (default: this repository).
"""
