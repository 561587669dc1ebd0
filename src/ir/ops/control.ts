/** @fileoverview control ops (to be filled). */
export {};
