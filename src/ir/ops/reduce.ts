/** @fileoverview reduce ops (to be filled). */
export {};
